"""Takes what @tensorflow/tfjs-node(-gpu) builds against out of a TensorFlow Python wheel.

usage: python3 extractTfWheel.py WHEEL DEPS_DIR BINDING_SRC_DIR

Writes DEPS_DIR/lib/libtensorflow_cc.so.2 and libtensorflow_framework.so.2 (streamed, not read
into memory: the first is ~800 MB) with the libtensorflow.so / libtensorflow_framework.so names
the binding links against, and DEPS_DIR/include with the headers that the binding's sources
include, followed transitively (about 15 of the wheel's 13,000). Prints one JSON line.
Exit 2: the wheel lacks the C library (not a TensorFlow 2.x Linux wheel).
"""
import json
import os
import re
import shutil
import sys
import zipfile

LIBS = ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")
LINKS = {"libtensorflow.so": "libtensorflow_cc.so.2", "libtensorflow_framework.so": "libtensorflow_framework.so.2"}
INCLUDE = "tensorflow/include/"
QUOTED_INCLUDE = re.compile(rb'^\s*#\s*include\s*"([^"]+)"', re.M)


def main(wheel, deps, binding_src):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        missing = [lib for lib in LIBS if "tensorflow/" + lib not in names]
        if missing:
            print(f"{wheel} has no tensorflow/{missing[0]}: not a TensorFlow 2.x Linux wheel", file=sys.stderr)
            return 2
        lib_dir = os.path.join(deps, "lib")
        include_dir = os.path.join(deps, "include")
        for d in (lib_dir, include_dir):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        for lib in LIBS:
            with z.open("tensorflow/" + lib) as src, open(os.path.join(lib_dir, lib), "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        for link, target in LINKS.items():
            os.symlink(target, os.path.join(lib_dir, link))

        headers = {n[len(INCLUDE):] for n in names if n.startswith(INCLUDE) and not n.endswith("/")}
        todo = []
        for f in sorted(os.listdir(binding_src)):
            with open(os.path.join(binding_src, f), "rb") as src:
                todo += [m.decode() for m in QUOTED_INCLUDE.findall(src.read())]
        copied = set()
        while todo:
            h = todo.pop()
            if h in copied or h not in headers:
                continue  # the binding's own headers and system headers are not in the wheel
            copied.add(h)
            data = z.read(INCLUDE + h)
            dst = os.path.join(include_dir, h)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as out:
                out.write(data)
            todo += [m.decode() for m in QUOTED_INCLUDE.findall(data)]
    print(json.dumps({"libs": list(LIBS), "headers": len(copied)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
