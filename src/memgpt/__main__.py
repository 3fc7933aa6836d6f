from memgpt.cli.main import main

raise SystemExit(main())
