"""The page at / in headless Chromium, driven by Selenium.

    python page_check.py http://HOST:PORT SCREENSHOT_DIR

For each model the page lists, does what a person would (generate a text and watch it stream,
ask for completions, forecast a pasted series, classify texts, translate a word, talk with a
chat model, score a signal whole and monitored in pieces,
compose tunes and chorales, draw characters, run tensors),
checks what the page shows, and saves a screenshot per model. Exits 1 at the first failure.
"""
import json
import os
import shutil
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def post(url, path, body):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000", "--disable-gpu"):
        options.add_argument(flag)
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


def main():
    url, shots = sys.argv[1], sys.argv[2]
    os.makedirs(shots, exist_ok=True)
    driver = browser()
    wait = WebDriverWait(driver, 60)
    try:
        driver.get(url + "/")
        wait.until(lambda d: d.find_element(By.ID, "models").get_attribute("data-ready") == "true")
        names = [li.get_attribute("data-model") for li in driver.find_elements(By.CSS_SELECTOR, "#models li")]
        check(len(names) >= 5, f"the page lists the models {names}")
        check("extensions" in driver.find_element(By.ID, "server").text, "the header shows the server's extensions")
        for name in names:
            driver.find_element(By.CSS_SELECTOR, f'#models li[data-model="{name}"]').click()
            wait.until(lambda d: d.find_element(By.ID, "panel").get_attribute("data-model") == name)
            task = driver.find_element(By.CSS_SELECTOR, f'#models li[data-model="{name}"] small').text
            if task == "language-model":
                driver.find_element(By.ID, "maxTokens").clear()
                driver.find_element(By.ID, "maxTokens").send_keys("120")
                driver.find_element(By.ID, "generate").click()
                wait.until(lambda d: d.find_element(By.ID, "generated").get_attribute("data-done") == "true")
                text = driver.find_element(By.ID, "generated").text
                check(text.startswith("ROMEO.") and len(text) > len("ROMEO.") + 50, f"{name}: the generated text streamed in ({len(text)} characters)")
                driver.find_element(By.ID, "complete").click()
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#completions .bar")) > 0)
                check(len(driver.find_elements(By.CSS_SELECTOR, "#completions .bar")) >= 3, f"{name}: completions with probability bars")
            elif task == "forecast":
                driver.find_element(By.ID, "forecast").click()
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart svg path.forecast")) == 1)
                rows = driver.find_elements(By.CSS_SELECTOR, "#forecastTable tr")
                check(len(driver.find_elements(By.CSS_SELECTOR, "#chart svg path.history")) == 1, f"{name}: the history is drawn")
                check(len(rows) == 13, f"{name}: the forecast is drawn and listed (12 steps, {len(rows) - 1} rows)")
            elif task == "classify":
                driver.find_element(By.ID, "classify").click()
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#classes .prediction")) == 2)
                check(len(driver.find_elements(By.CSS_SELECTOR, "#classes .bar")) == 4, f"{name}: two texts, a bar per class each")
            elif task == "seq2seq":
                driver.find_element(By.ID, "translate").click()
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#heatmap svg rect.weight")) > 0)
                output = driver.find_element(By.ID, "translation").text
                cells = len(driver.find_elements(By.CSS_SELECTOR, "#heatmap svg rect.weight"))
                check(cells % len("recurrent") == 0 and cells // len("recurrent") >= len(output.split()),
                      f"{name}: translation {output!r} with an attention heat map of {cells} cells")
            elif task == "chat":
                # Two turns typed and sent with Enter; each reply streams in and equals what the
                # reply route gives for the same conversation.
                said = []
                for turn, message in enumerate(["Hello, how are you?", "What is your name?"]):
                    box = driver.find_element(By.ID, "message")
                    box.clear()
                    box.send_keys(message + "\n")
                    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#conversation li.assistant[data-done=true]")) == turn + 1)
                    shown = driver.find_elements(By.CSS_SELECTOR, "#conversation li.assistant")[turn].text
                    expected = post(url, f"/v2/models/{name}/reply", {"message": message, "context": said})["reply"]
                    check(shown == expected.strip(), f"{name}: reply {turn + 1} {shown!r} is the reply route's for the same conversation")
                    said += [message, expected]
                check(len(driver.find_elements(By.CSS_SELECTOR, "#conversation li")) == 4, f"{name}: the conversation shows four turns")
            elif task == "anomaly":
                # Scored whole, then monitored 100 readings at a time through a sequence: the
                # same alarms, drawn over the signal.
                chart = lambda d: d.find_element(By.ID, "anomalyChart")
                driver.find_element(By.ID, "score").click()
                wait.until(lambda d: chart(d).get_attribute("data-scored") == "1200")
                alarms = chart(driver).get_attribute("data-alarms")
                check(len(driver.find_elements(By.CSS_SELECTOR, "#anomalyChart svg path.signal")) == 1
                      and len(driver.find_elements(By.CSS_SELECTOR, "#anomalyChart svg path.score")) == 1,
                      f"{name}: the signal and its score are drawn ({alarms} readings above the threshold)")
                driver.execute_script('document.getElementById("anomalyChart").dataset.scored = ""')
                driver.find_element(By.ID, "monitor").click()
                wait.until(lambda d: chart(d).get_attribute("data-scored") == "1200" and not d.find_element(By.ID, "monitor").get_property("disabled"))
                check(chart(driver).get_attribute("data-alarms") == alarms, f"{name}: monitored in pieces, the same {alarms} alarms")
                shaded = len(driver.find_elements(By.CSS_SELECTOR, "#anomalyChart svg rect.range"))
                check((shaded > 0) == (int(alarms) > 0), f"{name}: {shaded} flagged ranges shaded")
            elif task in ("music-tunes", "music-chorales"):
                driver.find_element(By.ID, "compose").click()
                wait.until(lambda d: d.find_element(By.ID, "roll").get_attribute("data-done") == "true")
                link = driver.find_element(By.ID, "midiLink").get_attribute("href")
                check(link.startswith("data:audio/midi;base64,TVRoZA"), f"{name}: a MIDI file to download (MThd header)")
                if task == "music-tunes":
                    abc = driver.find_element(By.ID, "abc").text
                    check(abc.count("X:") == 2 and "K:" in abc, f"{name}: two tunes written as ABC")
                else:
                    panels = len(driver.find_elements(By.CSS_SELECTOR, "#roll svg"))
                    check(panels == 1, f"{name}: the chorales' piano rolls drawn")
            elif task == "strokes":
                driver.find_element(By.ID, "draw").click()
                wait.until(lambda d: d.find_element(By.ID, "grid").get_attribute("data-done") == "true")
                cells = len(driver.find_elements(By.CSS_SELECTOR, "#grid svg text"))
                check(cells == 12, f"{name}: a grid of 12 drawings ({len(driver.find_elements(By.CSS_SELECTOR, '#grid svg polyline'))} strokes)")
            else:
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#signature tr")) > 1)
                driver.find_element(By.ID, "infer").click()
                wait.until(lambda d: d.find_element(By.ID, "tensorOutput").text != "")
                check(driver.find_element(By.ID, "tensorOutput").text.startswith("y FP32"), f"{name}: tensors run from the page")
            path = os.path.join(shots, f"{name}.png")
            driver.save_screenshot(path)
            print(f"screenshot: {path}")
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        check(not errors, f"no errors in the browser's console {errors}")
    finally:
        driver.quit()
    print("all page checks passed")


if __name__ == "__main__":
    main()
