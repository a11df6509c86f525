"""The web console in a real browser: headless Chromium driven through Selenium WebDriver.

One gateway (``SWITCHYARD_BIN``) with a master key, a SQLite store and the built-in simulator starts on a
free loopback port; one Chromium session signs in with the master key and walks the console as an
operator does: the catalog and its filter, a model's page, a side-by-side playground call streamed from
two models, the request log (filtered by model, and one request's detail), the spend charts, creating a
virtual key (its secret checked against ``/v1/models``) and revoking it, and signing out. After every
page the browser's console log must hold no ``SEVERE`` entry (a favicon 404 aside).

The test skips when ``/usr/bin/chromium``, ``/usr/bin/chromedriver`` or ``selenium`` is missing, unless
``SWITCHYARD_REQUIRE_BROWSER=1`` (then it fails). ``SWITCHYARD_SCREENSHOTS`` names a directory for
full-page PNG screenshots of each page. The gateway, chromedriver and any browser process it leaves
behind are stopped by PID.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from test_operations import running_gateway

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MASTER_KEY = "sk-master-browser-0123456789"
MODEL_A = "gpt-4o-mini"
MODEL_B = "claude-3-5-haiku"
WAIT_S = 20.0

CONFIG = f"""\
listen: 127.0.0.1:{{port}}
store: sqlite:{{dir}}/switchyard.db
master_key: {MASTER_KEY}
providers:
  simulator: {{{{type: simulator, ttft: 20ms, tokens_per_second: 400}}}}
"""


def _browser_missing() -> str | None:
    """Why the browser cannot run here, or ``None``."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed"
    if importlib.util.find_spec("selenium") is None:
        return "the selenium package is not installed"
    return None


@pytest.fixture
def gateway() -> Iterator[str]:
    """The root URL of a gateway running ``CONFIG``."""
    with running_gateway(CONFIG) as (_, port, _dir):
        yield f"http://127.0.0.1:{port}"


def _process(pid: int) -> tuple[int, str, int] | None:
    """The parent PID, state and start time of process ``pid``, from ``/proc``; ``None`` when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: the other fields follow the last `)`.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(pid: int) -> list[tuple[int, int]]:
    """Every process below ``pid`` as (PID, start time), so a reused PID is not mistaken for it later."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if entry.name.isdigit() and (info := _process(int(entry.name))) is not None:
            children.setdefault(info[0], []).append((int(entry.name), info[2]))
    found: list[tuple[int, int]] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child[0])
    return found


@pytest.fixture
def driver() -> Iterator[Any]:
    """A headless Chromium session whose browser console log is captured; quit, and its processes
    stopped by PID, afterwards."""
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("SWITCHYARD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SWITCHYARD_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"needs headless Chromium and chromedriver: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingOptions", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER)
    browser = webdriver.Chrome(service=service, options=options)
    service_pid = service.process.pid
    try:
        yield browser
    finally:
        service_info = _process(service_pid)
        processes = _descendants(service_pid) + ([(service_pid, service_info[2])] if service_info else [])
        try:
            browser.quit()
        finally:
            # Whatever quitting left running (same PID, same start time, not a zombie) is killed.
            for pid, started in processes:
                info = _process(pid)
                if info is not None and info[2] == started and info[1] != "Z":
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass


# Helpers -----------------------------------------------------------------------------------------


def _by_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _one(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def _wait(driver: Any, condition: Callable[[Any], Any], what: str, timeout: float = WAIT_S) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message=f"waited for {what}")


def _path(driver: Any) -> str:
    return urllib.parse.urlsplit(driver.current_url).path


def _table(driver: Any, table_id: str) -> list[list[str]]:
    """The text of each body cell of table ``table_id``, row by row (one script call, no stale elements)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(`table#${arguments[0]} tbody tr`))"
        ".map(row => Array.from(row.cells).map(cell => cell.textContent.trim()));",
        table_id,
    )


def _column(driver: Any, table_id: str, header: str) -> int:
    """The index of the column of table ``table_id`` headed ``header``."""
    headers = driver.execute_script(
        "return Array.from(document.querySelectorAll(`table#${arguments[0]} thead th`))"
        ".map(cell => cell.textContent.trim());",
        table_id,
    )
    assert header in headers, (table_id, headers)
    return headers.index(header)


def _console_errors(driver: Any, page: str) -> None:
    """Fails on any SEVERE entry in the browser's console log since the last call (favicon 404s aside)."""
    entries = driver.get_log("browser")
    severe = [
        entry for entry in entries if entry.get("level") == "SEVERE" and "favicon" not in entry.get("message", "")
    ]
    assert not severe, f"browser console errors on {page}: " + "; ".join(entry["message"] for entry in severe)


def _screenshot(driver: Any, name: str) -> None:
    """A full-page PNG in ``$SWITCHYARD_SCREENSHOTS``, when set."""
    directory = os.environ.get("SWITCHYARD_SCREENSHOTS")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.set_window_size(size["width"], max(size["height"], min(int(height) + 120, 8000)))
    try:
        assert driver.save_screenshot(str(Path(directory) / name)), f"could not save {name}"
    finally:
        driver.set_window_size(size["width"], size["height"])


def _status_with(url: str, secret: str) -> int:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# The walk ----------------------------------------------------------------------------------------


def _sign_in(driver: Any, root: str) -> None:
    driver.get(root + "/")
    _wait(driver, lambda d: _path(d) == "/login", "the redirect to /login")
    assert "next=" in driver.current_url
    _console_errors(driver, "/login")
    _one(driver, "input[type=password][name=key]").send_keys(MASTER_KEY)
    _one(driver, "form.login button[type=submit]").click()
    _wait(driver, lambda d: _path(d) == "/" and _by_css(d, "table#catalog"), "the catalog after signing in")
    assert "master" in _one(driver, "form.user span").text


def _catalog_ids(driver: Any) -> list[str]:
    return [link.text for link in _by_css(driver, "table#catalog tbody td:first-child > a")]


def _catalog(driver: Any) -> None:
    from selenium.webdriver.support.ui import Select

    rows = _table(driver, "catalog")
    assert len(rows) > 40, rows
    ids = _catalog_ids(driver)
    assert len(ids) == len(rows) and MODEL_A in ids and MODEL_B in ids, ids
    mini = rows[ids.index(MODEL_A)]
    assert mini[1].replace(",", "") == "128000", mini
    assert "0.15" in mini[3] and "0.6" in mini[4], mini
    assert "simulator" in mini[7], mini
    assert _one(driver, f'table#catalog a[href="/models/{MODEL_A}"]').text == MODEL_A
    _console_errors(driver, "/ (catalog)")
    _screenshot(driver, "catalog.png")

    search = _one(driver, "form.filters input[name=q]")
    search.clear()
    search.send_keys("haiku")
    Select(_one(driver, "form.filters select[name=sort]")).select_by_index(0)
    _one(driver, "form.filters button[type=submit]").click()
    _wait(driver, lambda d: "q=haiku" in d.current_url, "the filtered catalog")
    filtered = _catalog_ids(driver)
    assert 0 < len(filtered) < len(rows), filtered
    assert all("haiku" in name for name in filtered) and MODEL_B in filtered, filtered
    assert _one(driver, "form.filters input[name=q]").get_attribute("value") == "haiku"
    _console_errors(driver, "/?q=haiku")


def _model_page(driver: Any) -> None:
    _one(driver, f'table#catalog a[href="/models/{MODEL_B}"]').click()
    _wait(driver, lambda d: _path(d) == f"/models/{MODEL_B}" and _by_css(d, "table#routes"), "the model page")
    assert _one(driver, "h1").text.startswith(MODEL_B)
    routes = _table(driver, "routes")
    assert routes and routes[0][0] == "simulator" and routes[0][1] == MODEL_B, routes
    assert routes[0][2].replace("$", "").startswith("0.8"), routes
    stats = _table(driver, "stats")
    assert stats and all(row[0].startswith("simulator") for row in stats), stats
    sparks = _by_css(driver, "table#stats svg.spark")
    assert sparks, "no sparkline on the model page"
    assert all(spark.size["width"] > 0 and spark.size["height"] > 0 for spark in sparks)
    assert _one(driver, "section.watch h2").text == "Watch out for"
    warnings = [item.text for item in _by_css(driver, "section.watch li")]
    assert any("simulator" in warning for warning in warnings), warnings
    snippets = [pre.text for pre in _by_css(driver, ".snippets pre")]
    assert snippets and all(MODEL_B in snippet for snippet in snippets), snippets
    _console_errors(driver, f"/models/{MODEL_B}")
    _screenshot(driver, "model.png")


def _meta(section: Any) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    return {dd.get_attribute("data-name"): dd.text for dd in section.find_elements(By.CSS_SELECTOR, "dl.meta dd")}


def _playground(driver: Any, root: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(root + "/playground")
    form = _wait(driver, lambda d: _by_css(d, "form#playground"), "the playground")[0]
    Select(_one(driver, "select[name=model_a]")).select_by_value(MODEL_A)
    Select(_one(driver, "select[name=model_b]")).select_by_value(MODEL_B)
    for name, value in (("temperature", "0.2"), ("max_tokens", "48")):
        field = _one(driver, f"input[name={name}]")
        field.clear()
        field.send_keys(value)
    system = _one(driver, "textarea[name=system]")
    system.clear()
    system.send_keys("You answer briefly.")
    user = _one(driver, "textarea[name=user]")
    user.clear()
    user.send_keys("Name three things a switchyard does.")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def both_done(d: Any) -> bool:
        sections = [_one(d, "section#answer-a"), _one(d, "section#answer-b")]
        for section in sections:
            error = _meta(section).get("error")
            # The script never marks a failed call done: report its error instead of timing out.
            assert error is None, f"{section.get_attribute('id')} failed: {error}"
        return all(section.get_attribute("data-done") == "true" for section in sections)

    _wait(driver, both_done, "both playground answers to finish")
    for section_id, model in (("answer-a", MODEL_A), ("answer-b", MODEL_B)):
        section = _one(driver, f"section#{section_id}")
        assert section.is_displayed()
        assert section.find_element(By.CSS_SELECTOR, ".title").text == model
        text = section.find_element(By.CSS_SELECTOR, ".text").text
        assert text.strip(), f"{section_id} has no text"
        meta = _meta(section)
        assert "simulator" in meta.get("route", ""), meta
        tokens = re.fullmatch(r"(\d+) in / (\d+) out", meta.get("tokens", ""))
        assert tokens, meta
        assert int(tokens[1]) > 0 and 0 < int(tokens[2]) <= 48, meta
        cost = meta.get("cost", "")
        assert re.fullmatch(r"\$\d+\.\d{6}", cost), meta
        assert float(cost[1:]) > 0, meta
        assert re.fullmatch(r"\d+ ms", meta.get("time to first token", "")), meta
        assert re.fullmatch(r"\d+ ms", meta.get("latency", "")), meta
    _console_errors(driver, "/playground")
    _screenshot(driver, "playground.png")


def _logs(driver: Any, root: str) -> None:
    # The request log reaches the store within its flush interval (500 ms by default): reload until
    # both playground calls are there.
    def loaded(d: Any) -> bool:
        d.get(root + "/logs")
        rows = _table(d, "logs")
        return len([row for row in rows if len(row) == 9]) >= 2

    _wait(driver, loaded, "both playground calls in the request log")
    everything = _table(driver, "logs")
    assert {row[1] for row in everything} >= {MODEL_A, MODEL_B}, everything
    assert all(row[4] == "200" and "simulator" in row[2] and row[3] == "master" for row in everything), everything
    for export in ("csv", "jsonl"):
        assert _by_css(driver, f'a[href^="/logs/export?format={export}"]'), f"no {export} export link"
    _console_errors(driver, "/logs")

    field = _one(driver, "form.filters input[name=model]")
    field.clear()
    field.send_keys(MODEL_B)
    _one(driver, "form.filters button[type=submit]").click()
    _wait(driver, lambda d: f"model={MODEL_B}" in d.current_url, "the filtered log")
    filtered = _table(driver, "logs")
    assert filtered and len(filtered) < len(everything), filtered
    model_column = _column(driver, "logs", "Model")
    assert all(row[model_column] == MODEL_B for row in filtered), filtered
    tokens = re.fullmatch(r"(\d+) / (\d+)", filtered[0][5].replace(",", ""))
    assert tokens and int(tokens[2]) > 0, filtered[0]
    assert filtered[0][6].startswith("$"), filtered[0]
    csv_link = _one(driver, 'a[href^="/logs/export?format=csv"]').get_attribute("href")
    assert f"model={MODEL_B}" in csv_link, csv_link
    _console_errors(driver, f"/logs?model={MODEL_B}")
    _screenshot(driver, "logs.png")

    link = _one(driver, "table#logs tbody tr td a")
    request_id = link.get_attribute("href").rsplit("/", 1)[1]
    link.click()
    _wait(driver, lambda d: _path(d) == f"/logs/{request_id}", "the request's page")
    assert request_id in _one(driver, "h1").text
    facts = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('dl.facts dt'))"
        ".map(dt => [dt.textContent.trim(), dt.nextElementSibling.textContent.trim()]));"
    )
    assert facts.get("Model") == MODEL_B and facts.get("Provider") == "simulator", facts
    assert facts.get("Status") == "200", facts
    assert _by_css(driver, "pre.body") or _by_css(driver, "p.muted"), "the request page shows no body section"
    _console_errors(driver, f"/logs/{request_id}")


def _spend(driver: Any, root: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(root + "/spend")
    _wait(driver, lambda d: _by_css(d, "table#spend-totals"), "the spend page")
    for chart in ("#cost-chart svg.chart", "#calls-chart svg.chart"):
        svgs = _by_css(driver, chart)
        assert len(svgs) == 1, chart
        assert svgs[0].size["width"] > 100 and svgs[0].size["height"] > 20, (chart, svgs[0].size)
        assert svgs[0].find_elements(By.CSS_SELECTOR, "rect"), f"{chart} draws no bar"
    totals = {row[0]: row for row in _table(driver, "spend-totals")}
    for model in (MODEL_A, MODEL_B):
        assert model in totals, totals
        assert totals[model][1] == "1" and totals[model][4].startswith("$"), totals[model]
    assert _by_css(driver, "table#budgets")
    _console_errors(driver, "/spend")
    _screenshot(driver, "spend.png")


def _keys(driver: Any, root: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(root + "/keys")
    _wait(driver, lambda d: _by_css(d, "form.create"), "the keys page")
    _one(driver, "form.create input[name=name]").send_keys("browser-key")
    Select(_one(driver, "form.create select[name=role]")).select_by_value("client")
    _one(driver, "form.create button[type=submit]").click()
    secret_box = _wait(driver, lambda d: _by_css(d, "pre#new-secret"), "the new key's secret")[0]
    secret = secret_box.text.strip()
    assert secret.startswith("sk-sy-"), secret
    assert not _by_css(driver, "p.error"), _one(driver, "p.error").text
    rows = [row for row in _table(driver, "keys") if row[0] == "browser-key"]
    state, role = _column(driver, "keys", "State"), _column(driver, "keys", "Role")
    assert len(rows) == 1 and rows[0][role] == "client" and rows[0][state] == "active", rows
    _console_errors(driver, "/keys (created)")
    _screenshot(driver, "keys.png")

    models_url = root + "/v1/models"
    assert _status_with(models_url, secret) == 200
    assert _status_with(models_url, "sk-sy-not-a-key") == 401

    rows = _by_css(driver, "table#keys tbody tr")
    row = next(tr for tr in rows if tr.find_elements(By.CSS_SELECTOR, "td")[0].text == "browser-key")
    row.find_element(By.XPATH, ".//button[normalize-space()='Revoke']").click()
    # Revoking answers with a redirect back to the list, which no longer shows the secret.
    _wait(driver, lambda d: _path(d) == "/keys" and not _by_css(d, "pre#new-secret") and _by_css(d, "table#keys"),
          "the keys page after revoking")
    assert not _by_css(driver, "pre#new-secret")
    revoked = [row for row in _table(driver, "keys") if row[0] == "browser-key"]
    assert len(revoked) == 1 and revoked[0][_column(driver, "keys", "State")] == "revoked", revoked
    assert "Revoke" not in revoked[0][8] and "Rotate" not in revoked[0][8], revoked
    _console_errors(driver, "/keys (revoked)")
    assert _status_with(models_url, secret) == 401


def _sign_out(driver: Any, root: str) -> None:
    _one(driver, "form.user button[type=submit]").click()
    _wait(driver, lambda d: _path(d) == "/login", "the sign-in page after signing out")
    driver.get(root + "/logs")
    _wait(driver, lambda d: _path(d) == "/login", "the redirect from /logs to /login")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(driver.current_url).query).get("next") == ["/logs"]
    assert _by_css(driver, "input[type=password][name=key]")
    assert not _by_css(driver, "form.user")
    _console_errors(driver, "/login (signed out)")


def test_an_operator_walks_the_console_in_a_browser(driver: Any, gateway: str) -> None:
    _sign_in(driver, gateway)
    _catalog(driver)
    _model_page(driver)
    _playground(driver, gateway)
    _logs(driver, gateway)
    _spend(driver, gateway)
    _keys(driver, gateway)
    _sign_out(driver, gateway)
