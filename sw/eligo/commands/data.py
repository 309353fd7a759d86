"""``eligo data``: inspect, generate and picture event data sets.

``eligo data info gestures``, ``eligo data generate digits --words digits.bin``,
``eligo data show gestures --index 3 --out sample.png``, ``eligo data inspect user01.aedat``.
Real sets (``dvs_gesture``, ``nmnist``) read from ``--data-root``; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

GENERATED = ("gestures", "digits")
REAL = ("dvs_gesture", "nmnist")


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="inspect, generate and plot event data sets")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    for name, help_text, func in (("info", "summarise a data set", run_info),
                                  ("generate", "build (and cache) both splits; report time and size", run_generate),
                                  ("show", "plot one sample: event frames and binned spikes", run_show)):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("dataset", choices=GENERATED + REAL + ("patterns",), help="data set name")
        action.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
        action.add_argument("--n-samples", type=int, default=None, help="samples per split (default: the set's own)")
        action.add_argument("--time-steps", type=int, default=20, help="time steps T (default 20)")
        action.add_argument("--size", type=int, default=16, help="input map side after downsampling (default 16)")
        action.add_argument("--data-root", type=Path, default=None, help="folder holding real data sets")
        action.add_argument("--cache-dir", type=Path, default=None, help="cache folder (default $ELIGO_CACHE_DIR "
                                                                          "or ~/.cache/eligo)")
        if name in ("info", "show"):
            action.add_argument("--split", choices=("train", "test"), default="train")
        if name == "generate":
            action.add_argument("--words", type=Path, default=None,
                                help="also write the train split as a little-endian uint32 word stream")
        if name == "show":
            action.add_argument("--index", type=int, default=0, help="sample index (default 0)")
            action.add_argument("--out", type=Path, required=True, help="PNG to write")
        action.set_defaults(func=func)
    inspect = actions.add_parser("inspect", help="read one event file: its events and what the reader skipped")
    inspect.add_argument("file", type=Path, help="an .aedat, .aedat4, .bin, .npy or .npz file")
    inspect.set_defaults(func=run_inspect)


def _options(args) -> dict:
    options = {"seed": args.seed}
    if args.dataset != "patterns":
        options.update(time_steps=args.time_steps, size=args.size, cache_dir=args.cache_dir)
    if args.n_samples is not None:
        options["n_samples"] = args.n_samples
    if args.dataset in REAL:
        options["data_root"] = args.data_root
    return options


def _load(args, split: str):
    from eligo.data import load_dataset

    return load_dataset(args.dataset, split, **_options(args))


def run_info(args) -> int:
    import numpy as np

    dataset = _load(args, args.split)
    counts = np.bincount(dataset.labels.numpy(), minlength=dataset.n_classes)
    density = float(dataset.spikes.float().mean()) if len(dataset) else 0.0
    print(f"{dataset.name}/{args.split}: {len(dataset)} samples, T={dataset.time_steps}, "
          f"{dataset.n_inputs} inputs, {dataset.n_classes} classes")
    print(f"samples per class: {counts.tolist()}")
    print(f"spike density: {density:.4f} ({density * dataset.n_inputs:.1f} input spikes per step)")
    return 0


def run_generate(args) -> int:
    import time

    from eligo.data.cache import cache_path
    from eligo.data.stream import dataset_words

    for split in ("train", "test"):
        started = time.perf_counter()
        dataset = _load(args, split)
        seconds = time.perf_counter() - started
        print(f"{args.dataset}/{split}: {len(dataset)} samples in {seconds:.1f} s")
    if args.dataset in GENERATED:
        import glob

        root = cache_path({"name": args.dataset, "split": "train"}, args.cache_dir).parent
        for path in sorted(glob.glob(str(root / f"{args.dataset}-*.npz"))):
            print(f"cache: {path} ({Path(path).stat().st_size / 1e6:.2f} MB)")
    if args.words is not None:
        import numpy as np

        train = _load(args, "train")
        words = np.concatenate(list(dataset_words(train)))
        args.words.parent.mkdir(parents=True, exist_ok=True)
        words.astype("<u4").tofile(args.words)
        print(f"words: {args.words} ({len(words)} words, {len(train)} samples)")
    return 0


def run_inspect(args) -> int:
    """Events, sensor, time span and the reader's skipped packets and invalid events; 1 when no sample can be
    built from the file (it says why)."""
    from eligo.data.formats import describe_packets, read_events

    recording = read_events(args.file)
    events = recording.events
    width, height, polarities = recording.sensor_size
    print(f"{args.file}: {len(events)} events, sensor {width} x {height} x {polarities}")
    if len(events):
        on = int(events["p"].sum())
        print(f"time: {int(events['t'][0])} .. {int(events['t'][-1])} µs; {on} ON, {len(events) - on} OFF")
    print(f"skipped packets: {describe_packets(recording.skipped_packets) or 'none'}")
    print(f"invalid events dropped: {recording.invalid_events}")
    reason = recording.empty_reason()
    if reason is not None:
        print(f"no sample can be built from it: {reason}")
        return 1
    return 0


def run_show(args) -> int:
    from eligo.data.plots import plot_sample

    if args.dataset == "patterns":
        print("patterns has no events to show (it is generated as spikes)")
        return 1
    events = _event_set(args, [args.index])
    dataset = events.to_spikes(size=args.size, time_steps=args.time_steps, progress=False)
    label = int(events.labels[0])
    out = plot_sample(events.samples[0], events.sensor_size, int(events.durations[0]), dataset.spikes[0].numpy(),
                      title=f"{args.dataset}/{args.split} #{args.index} ({events.class_names[label]})", out=args.out)
    print(f"wrote {out}")
    return 0


def _event_set(args, indices: list[int]):
    """The raw events of the chosen samples (generated sets regenerate only those)."""
    from eligo.data.eventset import EventSet

    if args.dataset == "gestures":
        from eligo.data.gestures import gesture_events

        return gesture_events(args.split, seed=args.seed, indices=indices, progress=False)
    if args.dataset == "digits":
        from eligo.data.digits import digit_events

        return digit_events(args.split, seed=args.seed, indices=indices, progress=False)
    from eligo.data.real import dvs_gesture_events, nmnist_events

    full = (dvs_gesture_events(args.split, data_root=args.data_root) if args.dataset == "dvs_gesture"
            else nmnist_events(args.split, data_root=args.data_root))
    if not all(0 <= i < len(full) for i in indices):
        raise SystemExit(f"{args.dataset}/{args.split} has {len(full)} samples; index {indices} is out of range")
    return EventSet(full.name, tuple(full.samples[i] for i in indices), full.labels[indices],
                    full.durations[indices], full.sensor_size, full.class_names)
