"""Loads a dump kept as text (`<db>/<coll>.json` Extended JSON lines beside
`<db>/<coll>.metadata.json`, as in examples/seeds) into a server, the way mongorestore
loads a dump: each collection dropped, created with its options, filled, then its indexes
built. Only for test servers: it drops what it restores.

    python scripts/restore_text_dump.py URI examples/seeds [--prefix dupkey_test_]
"""

import json
import os
import sys

from bson import json_util
from pymongo import MongoClient


def main(uri, src, prefix=""):
    client = MongoClient(uri)
    for db_name in sorted(os.listdir(src)):
        folder = os.path.join(src, db_name)
        if not os.path.isdir(folder):
            continue
        db = client[prefix + db_name]
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".metadata.json"):
                continue
            coll = name[: -len(".metadata.json")]
            meta = json_util.loads(open(os.path.join(folder, name)).read())
            if meta.get("type") == "view":
                continue
            db.drop_collection(coll)
            options = dict(meta.get("options") or {})
            db.create_collection(coll, **options)
            data = os.path.join(folder, coll + ".json")
            if os.path.exists(data):
                docs = [json_util.loads(line) for line in open(data) if line.strip()]
                if docs:
                    db[coll].insert_many(docs, ordered=True)
            indexes = [ix for ix in meta.get("indexes", []) if ix.get("name") != "_id_"]
            for ix in indexes:
                ix.pop("v", None)
                ix.pop("ns", None)
            if indexes:
                db.command({"createIndexes": coll, "indexes": indexes})
            print(f"{db.name}.{coll}", file=sys.stderr)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    prefix = ""
    if "--prefix" in sys.argv:
        prefix = sys.argv[sys.argv.index("--prefix") + 1]
        args.remove(prefix)
    main(args[0], args[1], prefix)
