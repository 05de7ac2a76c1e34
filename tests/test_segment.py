import numba
import numpy as np
import pytest
from skimage.measure import label

from conftest import block_image
from segshift import Segmentation, segment


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two label maps split the pixels the same way (names aside)."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return pairs.shape[1] == len(np.unique(a)) == len(np.unique(b))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kernel", ["uniform", "gaussian", "epanechnikov"])
def test_recovers_noisy_blocks_exactly(seed, kernel):
    image, truth = block_image(np.random.default_rng(seed))
    seg = segment(image, kernel=kernel)
    assert seg.n_regions == 4
    assert same_partition(seg.labels, truth)
    assert sorted(seg.areas.tolist()) == sorted(np.bincount(truth.ravel()).tolist())


def test_block_mode_colours_are_the_block_colours(blocks):
    image, truth = blocks
    seg = segment(image)
    for region in range(seg.n_regions):
        mask = seg.labels == region + seg.start_label
        expected = image[mask].mean(axis=0)
        assert np.abs(seg.modes_rgb[region].astype(float) - expected).max() <= 3


def test_result_contract(photo_path):
    seg = segment(photo_path)
    assert isinstance(seg, Segmentation)
    assert seg.labels.dtype == np.int32 and seg.labels.shape == (300, 451)
    # regions are numbered from 1 (0 is free for "no region"), as skimage's slic numbers them
    assert seg.start_label == 1
    assert np.array_equal(np.unique(seg.labels), np.arange(1, seg.n_regions + 1))
    assert seg.modes_luv.shape == (seg.n_regions, 3) and seg.modes_rgb.dtype == np.uint8
    assert seg.areas.sum() == seg.labels.size
    assert np.array_equal(np.bincount(seg.labels.ravel())[1:], seg.areas)
    assert seg.areas.min() >= 20
    # every region is one 8-connected set of pixels
    components = label(seg.labels, background=0, connectivity=2)
    assert components.max() == seg.n_regions
    # labels are numbered in raster order of each region's first pixel
    _, first = np.unique(seg.labels.ravel(), return_index=True)
    assert np.all(np.diff(first) > 0)


@pytest.mark.parametrize("min_size", [1, 50, 400])
def test_no_region_below_min_size(min_size):
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    seg = segment(image, 3, 8, min_size)
    assert seg.areas.min() >= min_size
    components = label(seg.labels + 1, background=0, connectivity=2)
    assert components.max() == seg.n_regions


def test_whole_image_smaller_than_min_size_is_one_region():
    seg = segment(np.full((4, 4, 3), 90, dtype=np.uint8), min_size=100)
    assert seg.n_regions == 1 and seg.areas.tolist() == [16]


@pytest.mark.parametrize("speedup", ["none", "fast"])
def test_deterministic_and_thread_independent(photo_path, speedup):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = segment(photo_path, speedup=speedup)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = segment(photo_path, speedup=speedup)
        again = segment(photo_path, speedup=speedup)
    finally:
        numba.set_num_threads(before)
    for other in (two, again):
        np.testing.assert_array_equal(one.labels, other.labels)
        np.testing.assert_array_equal(one.modes_luv, other.modes_luv)


def test_larger_range_radius_gives_fewer_regions(photo_path):
    coarse, fine = segment(photo_path, 7, 12, 20), segment(photo_path, 7, 6.5, 20)
    assert coarse.hierarchy.n_finest < fine.hierarchy.n_finest
    assert segment(photo_path, 7, 12, 20, scale="fixed").n_regions < segment(photo_path, 7, 6.5, 20, scale="fixed").n_regions


def test_renders(blocks):
    image, _ = blocks
    seg = segment(image)
    modes = seg.mode_image()
    assert modes.shape == image.shape and modes.dtype == np.uint8
    assert len(np.unique(modes.reshape(-1, 3), axis=0)) == 4
    bounds = seg.boundary_image()
    red = np.all(bounds == (255, 0, 0), axis=2)
    # boundaries lie exactly where a 4-neighbour differs
    assert red[:, 31].all() and red[:, 32].all() and not red[5:20, 5:25].any()
    coloured = seg.label_image()
    assert len(np.unique(coloured.reshape(-1, 3), axis=0)) == 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(spatial_radius=0), "spatial_radius must be > 0, got 0"),
        (dict(spatial_radius=-3), "spatial_radius must be > 0, got -3"),
        (dict(range_radius=0.0), "range_radius must be > 0"),
        (dict(range_radius=float("nan")), "range_radius must be finite"),
        (dict(min_size=-1), "min_size must be >= 0"),
        (dict(min_size=2.5), "min_size must be an integer"),
        (dict(kernel="box"), "kernel must be one of"),
        (dict(max_iter=0), "max_iter must be > 0"),
    ],
)
def test_bad_parameters(kwargs, message, blocks):
    with pytest.raises(ValueError, match=message):
        segment(blocks[0], **kwargs)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((0, 0, 3), dtype=np.uint8), "image is empty"),
        (np.zeros((5, 5, 7), dtype=np.uint8), "image must have shape"),
        (np.full((5, 5, 3), np.nan), "NaN"),
    ],
)
def test_bad_images(image, message):
    with pytest.raises(ValueError, match=message):
        segment(image)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_mode_recovers_noisy_blocks_like_exact(seed):
    image, truth = block_image(np.random.default_rng(seed))
    fast = segment(image, speedup="fast")
    exact = segment(image)
    assert fast.n_regions == 4 and same_partition(fast.labels, truth)
    np.testing.assert_array_equal(fast.labels, exact.labels)


def test_fast_mode_validates_its_name(blocks):
    with pytest.raises(ValueError, match="speedup must be one of none, fast, got 'turbo'"):
        segment(blocks[0], speedup="turbo")


def test_min_size_as_fraction_of_area_scales_with_the_image():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    seg = segment(image, 3, 8, 0.05)  # 5 % of 2000 pixels = 100 pixels
    assert seg.areas.min() >= 100
    assert seg.params.min_size == 0.05
    np.testing.assert_array_equal(seg.labels, segment(image, 3, 8, 100).labels)


@pytest.mark.parametrize("bad", [1.5, -0.5, 1.0000001, float("inf")])
def test_min_size_fraction_out_of_range(bad, blocks):
    with pytest.raises(ValueError, match="min_size must be"):
        segment(blocks[0], min_size=bad)


@pytest.mark.parametrize("seed", range(3))
def test_drawn_boundaries_are_skimage_inner_boundaries(seed):
    from skimage.segmentation import find_boundaries

    from segshift import _render as render

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=(37, 53)).repeat(2, 0)[:, rng.permutation(53)]  # runs, single pixels, edges
    expected = find_boundaries(labels, connectivity=1, mode="inner", background=-1)
    np.testing.assert_array_equal(render.inner_boundaries(labels), expected)
    image = render.draw_boundaries(np.zeros((74, 53, 3), dtype=np.uint8), labels, (1, 2, 3))
    np.testing.assert_array_equal(np.all(image == (1, 2, 3), axis=-1), expected)


def test_labels_work_with_skimage_regionprops(photo_path):
    from skimage.measure import regionprops

    seg = segment(photo_path)
    props = regionprops(seg.labels)
    assert len(props) == seg.n_regions
    assert [p.label for p in props] == list(range(1, seg.n_regions + 1))
    assert [p.area for p in props] == seg.areas.tolist()


@pytest.mark.parametrize("start_label", [0, 1, 5])
def test_start_label_only_renumbers(blocks, start_label):
    base = segment(blocks[0], start_label=0)
    seg = segment(blocks[0], start_label=start_label)
    np.testing.assert_array_equal(seg.labels, base.labels + start_label)
    np.testing.assert_array_equal(seg.mode_image(), base.mode_image())
    np.testing.assert_array_equal(seg.modes_rgb, base.modes_rgb)
    level = seg.at(n_regions=2)
    assert level.start_label == start_label and level.labels.min() == start_label


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1"])
def test_start_label_must_be_a_non_negative_integer(blocks, bad):
    with pytest.raises(ValueError, match="start_label must be an integer >= 0"):
        segment(blocks[0], start_label=bad)


def test_options_are_keyword_only_and_old_positional_spelling_warns(blocks):
    import inspect

    sig = inspect.signature(segment)
    kinds = [p.kind for p in sig.parameters.values()]
    assert kinds[0] is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(k is inspect.Parameter.KEYWORD_ONLY for k in kinds[1:])
    with pytest.warns(FutureWarning, match="positional parameters is deprecated"):
        old = segment(blocks[0], 3, 8, 10)
    np.testing.assert_array_equal(old.labels, segment(blocks[0], spatial_radius=3, range_radius=8, min_size=10).labels)


def test_channel_axis_moves_the_channels(blocks):
    image = blocks[0]
    first = np.moveaxis(image, -1, 0)
    np.testing.assert_array_equal(segment(first, channel_axis=0).labels, segment(image).labels)
    with pytest.raises(ValueError, match="channel_axis"):
        segment(image[..., 0], channel_axis=0)


def test_params_object_and_keywords_agree(blocks):
    from segshift import Params

    p = Params(scale="fixed", range_radius=10)
    a = segment(blocks[0], params=p)
    b = segment(blocks[0], scale="fixed", range_radius=10)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.params == b.params == p
    # a keyword that differs from its default overrides the params
    assert segment(blocks[0], params=p, kernel="gaussian").params.kernel == "gaussian"
    assert p.range_radius_value == 10 and Params(scale="fixed").range_radius_value == 12


def test_compat_spelled_none_in_python_as_on_the_command_line(blocks):
    a = segment(blocks[0], compat="none")
    b = segment(blocks[0], compat=None)
    assert a.params.compat is None
    np.testing.assert_array_equal(a.labels, b.labels)


def _delta_e(a, b):
    return np.sqrt(((np.asarray(a, float) - np.asarray(b, float)) ** 2).sum(-1))


@pytest.mark.parametrize("name", ["coffee.jpg", "chelsea.jpg", "astronaut.jpg", "rocket.jpg"])
@pytest.mark.parametrize("scale", ["auto", "fixed"])
def test_every_region_is_painted_with_its_pixels_mean_mode(name, scale):
    """A region's colour is the area-weighted mean of its pixels' modes, within
    Delta E (CIE76, in the L*u*v* of the segmentation) of 0.5, where the modes
    are those the region's pixels climbed to (at the working resolution)."""
    from conftest import IMAGES
    from segshift import _resolution as resolution
    from segshift._loader import load_image, rgb_to_luv
    from segshift._meanshift import filter_image

    # the fixed scale keeps no working-resolution labels: run it where every pixel climbs
    radius = {"auto": "auto", "fixed": 7}[scale]
    seg = segment(IMAGES / name, scale=scale, spatial_radius=radius, start_label=0)
    rgb = load_image(IMAGES / name)
    p = seg.params
    if p.relative:
        work = resolution.plan(rgb.shape[:2], p.working_radius, p.resolution, p.speedup)
    else:
        work = resolution.Plan(None, float(p.spatial_radius))
    grid = resolution.resample(rgb, work.shape) if work.shape is not None else rgb
    modes = filter_image(rgb_to_luv(grid, compat=p.compat), work.spatial_radius, p.range_radius_value,
                         compat=p.compat)
    if seg.hierarchy is not None:
        working = seg.hierarchy.cut(seg.hierarchy.n_finest - seg.n_regions)[seg.hierarchy.labels]
    else:
        working = seg.labels
    counts = np.bincount(working.ravel(), minlength=seg.n_regions)
    means = np.stack([np.bincount(working.ravel(), weights=modes[..., c].ravel(), minlength=seg.n_regions)
                      for c in range(3)], 1) / np.maximum(counts, 1)[:, None]
    assert _delta_e(seg.modes_luv, means).max() < 0.5


def test_seed_colours_are_edisons_picture():
    """region_colour='seed' keeps EDISON's colours (the labels do not change)."""
    from conftest import IMAGES

    mean = segment(IMAGES / "coffee.jpg", scale="fixed")
    seed = segment(IMAGES / "coffee.jpg", scale="fixed", region_colour="seed")
    np.testing.assert_array_equal(mean.labels, seed.labels)
    assert not np.array_equal(mean.modes_rgb, seed.modes_rgb)
