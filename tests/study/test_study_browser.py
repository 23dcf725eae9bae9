"""A real browser (Debian's Chromium, driven by Selenium) takes the study as a participant from a
Prolific link: welcome page, every question, a reload in the middle, the completion code. The
votes in the database are exactly the clicks; a question text holding HTML is shown as text; the
page fits a phone's width. ``REALBENCH_STUDY_SCREENSHOT=results/study-screenshot.png`` saves the
README's screenshot there (else it goes to the test's temp folder)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from study_helpers import db_votes, live_server

pytest_plugins = ["study_fixtures"]
CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
INJECTED = '<img src=x onerror="document.title=\'pwned\'">'
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1000,1000", "--hide-scrollbars")


@pytest.fixture
def browser():
    if not (CHROMIUM.is_file() and DRIVER.is_file()):
        pytest.skip("Chromium is not installed here (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(DRIVER)))
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout: float = 10.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


READY = """const count = document.querySelector('.count');
return count !== null && count.textContent === arguments[0] && document.querySelector('.option') !== null
  && [...document.images].every(i => i.complete && i.naturalWidth > 0);"""


def _question(driver, number: int, total: int) -> None:
    """Wait (in one script call: the page may be replaced between two) for question ``number``."""
    _wait(driver, lambda d: d.execute_script(READY, f"Question {number} of {total}"))


def test_a_participant_completes_the_study_in_chromium(browser, study, tmp_path):
    from selenium.webdriver.common.by import By

    config = yaml.safe_load((study / "study.yaml").read_text())
    config["questions"][0]["hint"] = INJECTED
    config["completion_code"] = "C0DE-42"
    (study / "study.yaml").write_text(yaml.safe_dump(config))
    clicks = []
    with live_server(study) as url:
        browser.get(f"{url}/?PROLIFIC_PID=5f1e2d3c4b5a69788796a5b4&STUDY_ID=S1&SESSION_ID=X9")
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".welcome .submit")).pop().click()
        total = 20
        _question(browser, 1, total)
        shot = 2 * _first_photo_item(study) + 2  # the faithfulness question of an item of the sample's photos
        for number in range(1, total + 1):
            if number == 8:
                browser.refresh()  # a reload in the middle: the same question comes back
            _question(browser, number, total)
            options = browser.find_elements(By.CSS_SELECTOR, ".option")
            if number == 1:
                assert browser.find_element(By.CSS_SELECTOR, ".hint").text == INJECTED
                assert browser.title != "pwned" and not browser.find_elements(By.CSS_SELECTOR, "img[src='x']")
                assert not browser.find_elements(By.CSS_SELECTOR, ".reference")
            if number == shot:  # a faithfulness question, with the reference photos
                assert browser.find_elements(By.CSS_SELECTOR, ".reference")
                browser.set_window_size(1000, 1350)
                _screenshot(browser, tmp_path)
                browser.set_window_size(390, 844)  # a phone: nothing wider than the screen
                assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
                browser.set_window_size(1000, 1000)
            choice = options[number % len(options)]
            clicks.append(choice.get_attribute("data-choice"))
            choice.click()
            browser.find_element(By.CSS_SELECTOR, ".question .submit").click()
        code = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".code"))
        assert code[0].text == "C0DE-42"
        assert "?p=" in browser.current_url and "PROLIFIC_PID" not in browser.current_url
        console = [entry["message"] for entry in browser.get_log("browser")]
        assert not [m for m in console if "Content Security Policy" in m or "Uncaught" in m], console
    votes = db_votes(study)
    assert [image for _, _, _, image in votes] == clicks and len(votes) == total
    assert len({participant for participant, _, _, _ in votes}) == 1


def _first_photo_item(study: Path) -> int:
    """The position of the first scene item showing one of the sample's real photos."""
    import sqlite3

    with sqlite3.connect(study / "votes.sqlite") as db:
        return db.execute("SELECT MIN(position) FROM shown WHERE kind = 'scene' AND scene LIKE 'sample/%'"
                          ).fetchone()[0]


def _screenshot(driver, tmp_path: Path) -> None:
    """The page as a small PNG (3/4 size, 128 colours) for the README."""
    from PIL import Image

    target = Path(os.environ.get("REALBENCH_STUDY_SCREENSHOT") or tmp_path / "study-screenshot.png")
    shot = tmp_path / "shot.png"
    assert driver.save_screenshot(str(shot))
    with Image.open(shot) as picture:
        size = (picture.width * 3 // 4, picture.height * 3 // 4)
        small = picture.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    small.convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(target, optimize=True)
    assert Image.open(target).size == size
