LONG = (
    "The river town grew up around a crossing that had been used since before the Romans arrived. "
    "Merchants carried wool, salt and timber over the ford, and by the twelfth century a stone bridge "
    "with seven arches replaced the wooden one that floods had washed away three times in a single "
    "generation. The cathedral chapter owned most of the land on the north bank, while the guilds "
    "controlled the market square and the quays to the south. Disputes between the two were settled, "
    "often badly, in a court that met every quarter day in the hall above the corn exchange. "
    "In 1348 the plague reduced the population by nearly half; weavers from Flanders were invited to "
    "settle in the empty houses, and within fifty years worsted cloth had become the town's principal "
    "export. The railway reached the town in 1845, the canal basin was filled in twenty years later, "
    "and the old tannery became a brewery, then a printing works, and finally a museum of local "
    "industry with a small cafe on the ground floor. Today the bridge still carries traffic, although "
    "lorries heavier than seven tonnes must use the ring road, and every summer the regatta draws "
    "rowing crews from as far away as Ghent, Utrecht and Copenhagen. Visitors who climb the tower of "
    "St Peter's can see the whole valley: the water meadows, the allotments by the gasworks, the new "
    "housing estate on the hill where the windmill used to stand, and on a clear day the grey line of "
    "the sea beyond the marshes. Local historians continue to argue about the exact date of the first "
    "charter, the name of the mason who built the bridge, and whether the ghost in the almshouse is a "
    "monk, a weaver or simply the wind in the chimney."
)

TEXTS = [
    "Hello world",
    "",
    "?",
    "Remember that my sister's birthday is on March 3rd and she likes dark chocolate.",
    ("Since the token representation of the table structure has a significant impact on the accuracy "
     "and run-time performance of any Im2Seq model, we investigate in this paper how table-structure "
     "representation can be optimised."),
    "Café naïve résumé — 東京タワーは高い。 Ελληνικά, Привет мир! 🚀✨ Ünïcödé ß ﬁ",
    "def embed(texts):\n    return [model(t) for t in texts]  # TODO: batch 3.14159 x 2**10 http://example.com/a?b=c",
    LONG,
]

# English prose running into Russian near the 256-token limit: one attention
# head of layer 0 scores ~90 here, above float32 exp's overflow point (~88.7),
# which exercises the numerically careful softmax path of the numpy model.
RU = ("Москва — столица России, крупнейший город страны. Санкт-Петербург расположен на берегу "
      "Балтийского моря, а Новосибирск стоит на реке Обь.")
TEXTS.append(" ".join(LONG.split()[:180]) + " " + RU)
