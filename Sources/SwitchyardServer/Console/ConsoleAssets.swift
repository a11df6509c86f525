// SPDX-License-Identifier: Apache-2.0

/// The console's stylesheet and script, served from the binary (no CDN, works offline).
enum ConsoleAssets {
    /// `/console/app.css`.
    static let stylesheet = """
        :root { --fg: #1d2330; --muted: #5d6675; --line: #dde1e8; --accent: #2f6fde; --bad: #c0392b; --ok: #23865a; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f7f8fa; }
        header.top { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.25rem; background: #fff; border-bottom: 1px solid var(--line); }
        .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
        nav a { margin-right: 1rem; color: var(--muted); text-decoration: none; }
        nav a[aria-current=page] { color: var(--accent); font-weight: 600; }
        form.user { margin-left: auto; color: var(--muted); }
        main { padding: 1rem 1.25rem 3rem; max-width: 1440px; margin: 0 auto; }
        h1 small, h2 small { color: var(--muted); font-weight: 400; font-size: .7em; }
        a { color: var(--accent); }
        table.grid { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
        .grid th, .grid td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        .grid th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
        #catalog td:first-child a { white-space: nowrap; }
        #catalog td:nth-child(7) { min-width: 16rem; }
        #keys td { vertical-align: middle; }
        .exports { align-self: center; color: var(--muted); }
        select[name=sort] { max-width: 16rem; }
        .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .sub, .muted { color: var(--muted); font-size: .9em; }
        .tag { display: inline-block; margin: 0 .25rem .2rem 0; padding: 0 .4rem; border-radius: 3px; background: #e7eefc; color: #24498f; font-size: .85em; }
        form.filters, form.create { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin: .5rem 0 1rem; }
        label { display: flex; flex-direction: column; gap: .2rem; font-size: .9em; color: var(--muted); }
        input, select, textarea, button { font: inherit; padding: .3rem .45rem; border: 1px solid #c5cbd6; border-radius: 4px; background: #fff; color: var(--fg); }
        button { cursor: pointer; background: var(--accent); border-color: var(--accent); color: #fff; }
        button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
        td form { display: inline; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; background: #fff; padding: .75rem 1rem; border: 1px solid var(--line); }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; }
        .params code { font-size: .85em; }
        .watch { background: #fff8e6; border: 1px solid #f0d48a; padding: .25rem 1rem; margin: 1rem 0; }
        .spark svg.spark { color: var(--accent); vertical-align: middle; margin-right: .35rem; }
        .snippets { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; align-items: start; }
        figure { margin: 0; background: #fff; border: 1px solid var(--line); }
        figcaption { display: flex; justify-content: space-between; align-items: center; padding: .35rem .6rem; border-bottom: 1px solid var(--line); font-weight: 600; }
        pre { margin: 0; padding: .6rem; overflow: auto; font-size: 12.5px; white-space: pre-wrap; word-break: break-word; }
        pre.body { background: #fff; border: 1px solid var(--line); white-space: pre-wrap; word-break: break-word; max-height: 28rem; }
        .status.s2 { color: var(--ok); } .status.s4, .status.s5 { color: var(--bad); }
        .error { color: var(--bad); }
        .secret { background: #eaf7ef; border: 1px solid #9fd6b7; padding: .5rem 1rem; margin-bottom: 1rem; }
        svg.chart { width: 100%; max-width: 760px; height: auto; background: #fff; border: 1px solid var(--line); }
        ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
        form.login { display: flex; flex-direction: column; gap: .75rem; max-width: 28rem; }
        a.button { display: inline-block; padding: .35rem .9rem; border-radius: 4px; background: var(--accent); color: #fff; text-decoration: none; }
        .playground { display: flex; flex-direction: column; gap: .6rem; max-width: 960px; }
        .playground button[type=submit] { align-self: flex-start; padding: .35rem 1.5rem; }
        .playground .models { display: flex; flex-wrap: wrap; gap: .75rem; }
        .playground textarea { width: 100%; }
        .answers { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 1rem; margin-top: 1rem; }
        .answer { background: #fff; border: 1px solid var(--line); padding: .5rem 1rem; }
        .answer .text { white-space: pre-wrap; min-height: 3rem; }
        .answer dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .75rem; color: var(--muted); font-size: .9em; }
        .answer dl.meta dd { margin: 0; font-variant-numeric: tabular-nums; }
        """

    /// `/console/app.js`: copy buttons and the playground's streamed calls.
    static let script = #"""
        "use strict";
        (function () {
          const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") || "";

          for (const button of document.querySelectorAll("button.copy")) {
            button.addEventListener("click", async () => {
              const target = document.getElementById(button.dataset.copy);
              if (!target) return;
              try {
                await navigator.clipboard.writeText(target.innerText);
                button.textContent = "Copied";
              } catch (error) {
                const range = document.createRange();
                range.selectNodeContents(target);
                const selection = window.getSelection();
                selection.removeAllRanges();
                selection.addRange(range);
                button.textContent = "Selected";
              }
            });
          }

          const form = document.getElementById("playground");
          if (!form) return;

          function row(list, name, value) {
            let dd = list.querySelector('dd[data-name="' + name + '"]');
            if (!dd) {
              const dt = document.createElement("dt");
              dt.textContent = name;
              dd = document.createElement("dd");
              dd.dataset.name = name;
              list.append(dt, dd);
            }
            dd.textContent = value;
          }

          async function run(model, panel, messages, parameters) {
            panel.hidden = false;
            panel.querySelector(".title").textContent = model;
            const text = panel.querySelector(".text");
            const meta = panel.querySelector(".meta");
            text.textContent = "";
            meta.textContent = "";
            const started = performance.now();
            let firstToken = null;
            const body = Object.assign({ model: model, messages: messages, stream: true, stream_options: { include_usage: true } }, parameters);
            let response;
            try {
              response = await fetch("/playground/chat", {
                method: "POST",
                headers: { "content-type": "application/json", "x-csrf-token": csrf },
                body: JSON.stringify(body),
                credentials: "same-origin",
              });
            } catch (error) {
              row(meta, "error", String(error));
              panel.dataset.done = "true";
              return;
            }
            const provider = response.headers.get("x-switchyard-provider");
            if (provider) row(meta, "route", provider + "/" + (response.headers.get("x-switchyard-model") || "?"));
            if (!response.ok || !response.body) {
              let message = response.status + " " + response.statusText;
              try { message = (await response.json()).error.message; } catch (ignored) {}
              row(meta, "error", message);
              panel.dataset.done = "true";
              return;
            }
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            let buffer = "";
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buffer += decoder.decode(value, { stream: true });
              let end;
              while ((end = buffer.indexOf("\n\n")) >= 0) {
                const event = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                for (const line of event.split("\n")) {
                  if (!line.startsWith("data: ")) continue;
                  const data = line.slice(6);
                  if (data === "[DONE]") continue;
                  let chunk;
                  try { chunk = JSON.parse(data); } catch (ignored) { continue; }
                  if (chunk.error) { row(meta, "error", chunk.error.message || "stream error"); continue; }
                  const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
                  if (delta && delta.content) {
                    if (firstToken === null) {
                      firstToken = performance.now() - started;
                      row(meta, "time to first token", Math.round(firstToken) + " ms");
                    }
                    text.textContent += delta.content;
                  }
                  if (chunk.usage) {
                    row(meta, "tokens", chunk.usage.prompt_tokens + " in / " + chunk.usage.completion_tokens + " out");
                    if (typeof chunk.usage.cost === "number") row(meta, "cost", "$" + chunk.usage.cost.toFixed(6));
                  }
                }
              }
            }
            row(meta, "latency", Math.round(performance.now() - started) + " ms");
            panel.dataset.done = "true";
          }

          form.addEventListener("submit", (event) => {
            event.preventDefault();
            const data = new FormData(form);
            const messages = [];
            if (data.get("system")) messages.push({ role: "system", content: data.get("system") });
            messages.push({ role: "user", content: data.get("user") });
            const parameters = {};
            const temperature = parseFloat(data.get("temperature"));
            if (!Number.isNaN(temperature)) parameters.temperature = temperature;
            const maxTokens = parseInt(data.get("max_tokens"), 10);
            if (!Number.isNaN(maxTokens)) parameters.max_tokens = maxTokens;
            const panels = [document.getElementById("answer-a"), document.getElementById("answer-b")];
            for (const panel of panels) { panel.hidden = true; delete panel.dataset.done; }
            run(data.get("model_a"), panels[0], messages, parameters);
            if (data.get("model_b")) run(data.get("model_b"), panels[1], messages, parameters);
          });
        })();
        """#
}
