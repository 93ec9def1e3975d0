"""The demo page in a real headless Chromium, driven by Selenium: pick a class, press Generate, see the images.

Needs the Debian packages chromium and chromium-driver (.ci/install_browser.sh installs them) and the `demo` extra.
Where they are missing, the test is skipped with a message that says so."""

import shutil

import pytest
from conftest import make_pipeline


SCALE = 3
MISSING = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"browser test skipped: {' and '.join(MISSING)} not installed (run .ci/install_browser.sh, "
    "which installs the Debian packages chromium and chromium-driver)",
)
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="browser test skipped: selenium is not installed (the `demo` extra)"
)
pytest.importorskip("gradio", reason="browser test skipped: gradio is not installed (the `demo` extra)")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from hf_gan.demo import build_demo  # noqa: E402


@pytest.fixture(scope="module")
def page():
    demo = build_demo(make_pipeline("cgan"), scale=SCALE)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1600",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    try:
        browser.get(url)
        yield browser
    finally:
        browser.quit()
        demo.close()


def test_choose_a_class_and_generate(page):
    wait = WebDriverWait(page, 60)
    class_box = wait.until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "#class input")))
    class_box.click()
    wait.until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "[role='option'][aria-label='bird']"))
    ).click()
    assert class_box.get_attribute("value") == "bird"
    page.find_element(By.ID, "generate").click()

    def loaded_images(browser):
        return [
            image
            for image in browser.find_elements(By.CSS_SELECTOR, "#gallery img")
            if browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)
        ]

    try:  # the gallery fills image by image: wait for the default number of images, 8
        images = wait.until(lambda browser: len(loaded_images(browser)) >= 8 and loaded_images(browser))
    except TimeoutException:
        images = loaded_images(page)
    assert len(images) == 8
    sizes = {
        tuple(page.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image))
        for image in images
    }
    assert sizes == {(8 * SCALE, 8 * SCALE)}
    assert "bird · seed 0" in page.find_element(By.ID, "gallery").text
