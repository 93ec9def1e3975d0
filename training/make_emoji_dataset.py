"""Write an emoji set as an image folder with one folder per emoji.json category, for train_gan, train_classifier
and the emoji benchmark. The images come from iamcal/emoji-data's npm packages, one per drawing style: Twitter's
Twemoji (emoji-datasource-twitter, graphics CC-BY 4.0, https://github.com/twitter/twemoji) is the project's set;
Google's Noto Emoji (emoji-datasource-google, Apache 2.0, https://github.com/googlefonts/noto-emoji) is a second set,
the same categories drawn by other hands, for checking that a recipe is not tuned to one set:

    mkdir -p data && (cd data && npm pack emoji-datasource-twitter@16.0.0 emoji-datasource@16.0.0)
    python training/make_emoji_dataset.py --package data/emoji-datasource-twitter-16.0.0.tgz --output_dir data/emoji

The style is the package's (its package.json names it). Every emoji with an image in that style, and each of its
`skin_variations`, goes into its category's folder (the nine categories as emoji.json spells them; `Component`, the
bare skin-tone swatches and hair parts, is left out): 3,781 RGBA 64x64 PNGs in either style, copied as they are.
train_gan composites the alpha on white for RGB (--num_channels 3) and keeps it with --num_channels 4.
`--eval_fraction` puts that share of each category, picked by a seeded shuffle, in a `test` split (train/ and test/
folders) for the classifier's held-out accuracy.
"""

import argparse
import json
import os
import random
import tarfile


LEFT_OUT = ("Component",)


def emoji_images(emoji_json: list, style: str) -> list[tuple[str, str]]:
    """(image file name, category) of every emoji with an image in `style` and of each of its skin variations."""
    pairs = []
    for emoji in emoji_json:
        if emoji["category"] in LEFT_OUT:
            continue
        variants = [emoji, *emoji.get("skin_variations", {}).values()]
        pairs += [(v["image"], emoji["category"]) for v in variants if v.get(f"has_img_{style}", True)]
    return pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--package", required=True, help="emoji-datasource-twitter-16.0.0.tgz or another style's package (npm pack)"
    )
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--eval_fraction", type=float, default=0.0, help="share of each category for a test split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if os.path.exists(args.output_dir) and os.listdir(args.output_dir):
        parser.error(f"{args.output_dir} is not empty: pass a new --output_dir.")
    with tarfile.open(args.package) as package:
        members = {m.name: m for m in package.getmembers()}
        if not {"package/emoji.json", "package/package.json"} <= set(members):
            parser.error(
                f"{args.package} lacks package/emoji.json or package.json: is it an emoji-datasource-<style> npm pack?"
            )
        name = json.load(package.extractfile(members["package/package.json"]))["name"]
        style = name.removeprefix("emoji-datasource-")
        if style == name:
            parser.error(f"{args.package} is the npm package {name!r}, not one of emoji-datasource-<style>.")
        image_dir = f"package/img/{style}/64/"
        pairs = emoji_images(json.load(package.extractfile(members["package/emoji.json"])), style)
        missing = [name for name, _ in pairs if image_dir + name not in members]
        if missing:
            parser.error(f"{len(missing)} images listed in emoji.json are not in the package, e.g. {missing[0]}.")
        by_category = {}
        for name, category in pairs:
            by_category.setdefault(category, []).append(name)
        for category, names in sorted(by_category.items()):
            random.Random(f"{args.seed}-{category}").shuffle(names)
            num_eval = round(len(names) * args.eval_fraction)
            splits = {"test": names[:num_eval], "train": names[num_eval:]} if args.eval_fraction else {"": names}
            for split, split_names in splits.items():
                folder = os.path.join(args.output_dir, split, category)
                os.makedirs(folder, exist_ok=True)
                for name in split_names:
                    with open(os.path.join(folder, name), "wb") as file:
                        file.write(package.extractfile(members[image_dir + name]).read())
            print(f"{category}: {len(names)} images")
    print(f"{len(pairs)} {style} images in {len(by_category)} categories written to {args.output_dir}")


if __name__ == "__main__":
    main()
