#!/usr/bin/env python3
"""Drives the upload page in Debian's headless Chromium, with JavaScript off, as a source with
only a browser would: the form, a file with a message, the receipt page, a reload, and an
oversized file. Prints one JSON object with what it saw, for EndToEndTests/UploadPageBrowserTests.

    upload_page.py URL FILE MESSAGE OVERSIZED_FILE SCREENSHOT_FOLDER

Uses Debian's chromium, chromium-driver and python3-selenium: nothing is downloaded.
"""
import json
import sys
import time
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

url, upload, message, oversized, screenshots = sys.argv[1:6]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--blink-settings=scriptEnabled=false", "--window-size=900,1300",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps", "--disable-extensions"]:
    options.add_argument(argument)
# Tor Browser's "Safest" level: no JavaScript at all.
options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(600)
result = {}
try:
    # A control: a page whose script would write "JS RAN" shows only its text.
    driver.get("data:text/html,<body>static<script>document.body.append(' JS RAN')</script></body>")
    result["javascript_control"] = driver.find_element(By.TAG_NAME, "body").text
    driver.get_log("performance")  # the control's own requests are not the page's

    driver.get(url)
    result["form_title"] = driver.title
    driver.save_screenshot(f"{screenshots}/upload-form.png")
    driver.set_window_size(412, 915)  # a phone's width: one column, nothing cut off
    widest = max(element.rect["x"] + element.rect["width"]
                 for tag in ["main", "form", "textarea", "input", "button", "p", "li"]
                 for element in driver.find_elements(By.TAG_NAME, tag))
    result["phone_fits"] = widest <= 412
    driver.save_screenshot(f"{screenshots}/upload-form-phone.png")
    driver.set_window_size(900, 1300)
    driver.find_element(By.NAME, "message").send_keys(message)
    driver.find_element(By.NAME, "file").send_keys(upload)
    started = time.monotonic()
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 600).until(lambda d: "/receipt/" in d.current_url)
    result["upload_seconds"] = round(time.monotonic() - started, 2)
    result["receipt_url_path"] = urlsplit(driver.current_url).path
    result["receipt"] = driver.find_element(By.ID, "receipt").text
    result["receipt_heading"] = driver.find_element(By.TAG_NAME, "h1").text
    driver.set_window_size(900, 560)
    driver.save_screenshot(f"{screenshots}/upload-receipt.png")
    driver.refresh()
    result["receipt_after_reload"] = driver.find_element(By.ID, "receipt").text

    driver.get(url)
    driver.find_element(By.NAME, "file").send_keys(oversized)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 600).until(lambda d: d.find_elements(By.TAG_NAME, "h1")
                                     and d.find_element(By.TAG_NAME, "h1").text != result["form_title"])
    result["too_large_heading"] = driver.find_element(By.TAG_NAME, "h1").text
    result["too_large_text"] = driver.find_element(By.TAG_NAME, "main").text

    # Every request the pages made, from the browser's own network log.
    requests = []
    for entry in driver.get_log("performance"):
        event = json.loads(entry["message"])["message"]
        if event.get("method") == "Network.requestWillBeSent":
            request = event["params"]["request"]
            requests.append({"method": request["method"], "url": request["url"]})
    result["requests"] = requests
finally:
    driver.quit()
print(json.dumps(result))
