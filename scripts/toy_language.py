#!/usr/bin/env python3
"""The tiny preset's toy language: word-for-word English→French sentences of 2–7 words from an
18-word vocabulary, for short training runs that must not need a real corpus.
Usage: scripts/toy_language.py PREFIX SEED TRAIN_PAIRS VALID_PAIRS
writes PREFIX.train.en/.fr and PREFIX.valid.en/.fr (PREFIX may name a directory and a stem)."""
import random
import sys

if len(sys.argv) != 5:
    sys.exit(__doc__)
prefix, seed, n_train, n_valid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
en = "the a dog cat man woman red blue runs sits on in street park big small ball with".split()
fr = "le un chien chat homme femme rouge bleu court assis sur dans rue parc grand petit balle avec".split()
r = random.Random(seed)
for split, n in (("train", n_train), ("valid", n_valid)):
    with open(f"{prefix}.{split}.en", "w") as e, open(f"{prefix}.{split}.fr", "w") as f:
        for _ in range(n):
            ws = [r.randrange(len(en)) for _ in range(2 + r.randrange(6))]
            e.write(" ".join(en[w] for w in ws) + "\n")
            f.write(" ".join(fr[w] for w in ws) + "\n")
