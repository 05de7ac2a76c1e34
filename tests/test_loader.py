import numpy as np
import pytest
from PIL import Image

from segshift import load_image
from segshift.errors import ImageReadError, ImageTooLargeError
from segshift._loader import image_features, rgb_to_luv


@pytest.mark.parametrize(
    "rgb, luv",
    [
        ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        ((1.0, 0.0, 0.0), (53.2329, 175.0151, 37.7564)),
        ((0.0, 1.0, 0.0), (87.7370, -83.0776, 107.3985)),
        ((0.0, 0.0, 1.0), (32.3026, -9.4054, -130.3423)),
        ((0.5, 0.5, 0.5), (53.3889, 0.0, 0.0)),
    ],
)
def test_luv_known_values(rgb, luv):
    """Published sRGB (D65) -> CIE L*u*v* values."""
    out = rgb_to_luv(np.array(rgb, dtype=np.float32).reshape(1, 1, 3))[0, 0]
    np.testing.assert_allclose(out, luv, atol=0.02)


def test_features_layout():
    luv = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    f = image_features(luv)
    assert f.shape == (6, 5)
    # pixel (y=1, x=2) is row 5: (x, y, L, u, v)
    np.testing.assert_array_equal(f[5], [2, 1, *luv[1, 2]])


def test_rgb_uint8_array():
    a = np.array([[[0, 128, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(load_image(a), [[[0, 128 / 255, 1]]], atol=1e-7)


def test_gray_and_single_channel_arrays():
    g = np.array([[0, 255]], dtype=np.uint8)
    out = load_image(g)
    assert out.shape == (1, 2, 3)
    np.testing.assert_allclose(out[0, 1], [1, 1, 1])
    np.testing.assert_array_equal(load_image(g[..., None]), out)


def test_alpha_is_composited_over_white():
    rgba = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 0, 128]]], dtype=np.uint8)
    out = load_image(rgba)
    np.testing.assert_allclose(out[0, 0], [1, 0, 0])
    np.testing.assert_allclose(out[0, 1], [1, 1, 1])
    np.testing.assert_allclose(out[0, 2], [1 - 128 / 255] * 3, atol=1e-6)
    gray_alpha = np.array([[[0, 0], [0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(load_image(gray_alpha)[0], [[1, 1, 1], [0, 0, 0]])


def test_16bit_float_bool_and_other_integers():
    np.testing.assert_allclose(load_image(np.array([[65535, 0]], dtype=np.uint16))[0, :, 0], [1, 0])
    np.testing.assert_allclose(load_image(np.array([[0.25]]))[0, 0], [0.25] * 3)
    np.testing.assert_allclose(load_image(np.array([[True, False]]))[0, :, 0], [1, 0])
    np.testing.assert_allclose(load_image(np.array([[255, 0]], dtype=np.int64))[0, :, 0], [1, 0])
    np.testing.assert_allclose(load_image(np.array([[1000]], dtype=np.int32))[0, 0, 0], 1000 / 65535, rtol=1e-6)


def test_does_not_modify_or_alias_input():
    a = np.full((3, 3), 0.5)
    a.setflags(write=False)
    out = load_image(a)
    out[:] = 0
    assert (a == 0.5).all()


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((0, 5, 3)), "image is empty"),
        (np.zeros((2, 2, 5)), "image must have shape"),
        (np.zeros((2, 2, 3, 1)), "image must have shape"),
        (np.array([[np.nan, 0.5]]), "NaN or infinite"),
        (np.array([[1.5]]), r"must lie in \[0, 1\]"),
        (np.array([[-3]]), "negative values"),
        (np.array([["a"]]), "unsupported dtype"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ValueError, match=message):
        load_image(array)


def save(path, array, **kw):
    Image.fromarray(array).save(path, **kw)
    return path


def test_files_of_each_kind(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    np.testing.assert_allclose(load_image(save(tmp_path / "a.png", rgb)), rgb / 255, atol=1e-6)
    gray = rgb[..., 0]
    out = load_image(save(tmp_path / "g.png", gray))
    np.testing.assert_allclose(out[..., 1], gray / 255, atol=1e-6)
    # gray + alpha, RGBA, palette with transparency
    la = Image.fromarray(np.dstack([gray, np.full_like(gray, 255)]), mode="LA")
    la.save(tmp_path / "la.png")
    np.testing.assert_allclose(load_image(tmp_path / "la.png")[..., 0], gray / 255, atol=1e-6)
    rgba = np.dstack([rgb, np.zeros_like(gray)])
    np.testing.assert_allclose(load_image(save(tmp_path / "rgba.png", rgba)), 1.0)
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    out = load_image(tmp_path / "p.png")
    assert out.shape == (6, 5, 3)
    index = np.asarray(Image.open(tmp_path / "p.png"))
    np.testing.assert_allclose(out[index == 0], 1.0)  # transparent entry -> white


def test_16bit_files_keep_precision(tmp_path):
    import cv2

    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, (4, 5, 3), dtype=np.uint16)
    for name in ("c16.png", "c16.tif"):
        cv2.imwrite(str(tmp_path / name), rgb16[..., ::-1])
        np.testing.assert_allclose(load_image(tmp_path / name), rgb16 / 65535, atol=1e-6)
    gray16 = rng.integers(0, 65536, (4, 5), dtype=np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    np.testing.assert_allclose(load_image(tmp_path / "g16.png")[..., 2], gray16 / 65535, atol=1e-6)


def test_exif_orientation_is_applied(tmp_path):
    rgb = np.zeros((10, 20, 3), dtype=np.uint8)
    rgb[:, :10] = 255  # left half white
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "r.jpg")
    assert out.shape == (20, 10, 3)
    assert out[:5].mean() > 0.9 and out[-5:].mean() < 0.1  # white half now on top


def test_bad_files(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty file"):
        load_image(tmp_path / "empty.png")
    (tmp_path / "text.jpg").write_text("<html>not an image</html>")
    with pytest.raises(ImageReadError, match="not a recognised image"):
        load_image(tmp_path / "text.jpg")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageReadError, match="is a directory"):
        load_image(tmp_path / "dir.png")


def test_max_pixels(tmp_path):
    save(tmp_path / "big.png", np.zeros((30, 40), dtype=np.uint8))
    with pytest.raises(ImageTooLargeError, match="above the limit of 1,000"):
        load_image(tmp_path / "big.png", max_pixels=1000)
    assert load_image(tmp_path / "big.png", max_pixels=1200).shape == (30, 40, 3)
    assert load_image(tmp_path / "big.png", max_pixels=None).shape == (30, 40, 3)


@pytest.mark.parametrize(
    "rgb8, luv",
    [
        # EDISON takes RGB as linear: mid grey 128 has Y = 128/255, L* = 116 Y^(1/3) - 16
        ((128, 128, 128), (116 * (128 / 255) ** (1 / 3) - 16, 0.0, 0.0)),
        # red: x, y, z = 0.4125, 0.2125, 0.0193; u' = 4x / (x + 15y + 3z) = 0.45108
        ((255, 0, 0), (53.22, 175.19, 37.70)),
        ((0, 0, 0), (0.0, 0.0, 0.0)),
    ],
)
def test_edison_luv_conversion(rgb8, luv):
    out = rgb_to_luv(np.array(rgb8, dtype=np.float32).reshape(1, 1, 3) / 255, compat="edison")[0, 0]
    np.testing.assert_allclose(out, luv, atol=0.05)


@pytest.mark.parametrize("compat", [None, "edison"])
def test_luv_round_trip(compat):
    from segshift._loader import luv_to_rgb

    rng = np.random.default_rng(3)
    rgb8 = rng.integers(0, 256, (7, 9, 3)).astype(np.float32) / 255
    back = luv_to_rgb(rgb_to_luv(rgb8, compat=compat), compat=compat)
    np.testing.assert_allclose(back, rgb8, atol=1e-5)


@pytest.mark.parametrize("compat", [None, "edison"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_luv_conversion_is_scikit_images(compat, dtype):
    """The compiled conversion computes what scikit-image's does (float32,
    within 2e-4), dark colours below L*'s knee, white and black included, on
    C-contiguous and strided arrays."""
    from skimage.color import rgb2luv, xyz2luv

    from segshift._loader import EDISON_RGB_TO_XYZ

    rng = np.random.default_rng(11)
    rgb = rng.random((37, 53, 3)).astype(dtype)
    rgb[0, :10] = rng.random((10, 3)) * 0.02  # L* on the linear part
    rgb[1, 0] = 1.0
    rgb[1, 1] = 0.0
    if compat == "edison":
        rounded = np.round(rgb.astype(np.float32) * np.float32(255)) / np.float32(255)
        expected = xyz2luv(rounded @ EDISON_RGB_TO_XYZ.T.astype(np.float32))
    else:
        expected = rgb2luv(rgb.astype(np.float32))
    np.testing.assert_allclose(rgb_to_luv(rgb, compat=compat), expected, atol=2e-4, rtol=0)
    strided = rgb[::2, ::3]
    np.testing.assert_allclose(rgb_to_luv(strided, compat=compat), expected[::2, ::3], atol=2e-4, rtol=0)
