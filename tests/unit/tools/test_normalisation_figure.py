import sys

from PIL import Image

from tests.helpers.drawn import draw
from tests.helpers.project import PROJECT_ROOT, run


def test_the_figure_shows_each_image_and_is_the_same_bytes_every_time(tmp_path):
    (tmp_path / "in").mkdir()
    draw("7", size=(300, 200)).save(tmp_path / "in" / "seven.png")
    draw("0", ink=(240, 240, 240), paper=(20, 60, 40), mode="RGB").save(tmp_path / "in" / "zero.jpg")
    drawn = []
    for attempt in range(2):
        output = tmp_path / f"figure{attempt}.png"
        command = [sys.executable, "-m", "tools.normalisation_figure", str(tmp_path / "in"), "--output", str(output)]
        result = run(command, PROJECT_ROOT, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"normalisation_figure: 2 images drawn into {output}\n"
        drawn.append(output.read_bytes())
    assert drawn[0] == drawn[1]
    assert Image.open(tmp_path / "figure0.png").size == (480, 520)  # two columns of 2.4 inches at 100 dpi


def test_a_folder_without_images_is_one_line(tmp_path):
    command = [sys.executable, "-m", "tools.normalisation_figure", str(tmp_path)]
    result = run(command, PROJECT_ROOT, check=False)
    assert result.returncode == 1
    assert (
        result.stderr == f"normalisation_figure: error: {tmp_path}: no images in this directory "
        "(expected .png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp)\n"
    )
