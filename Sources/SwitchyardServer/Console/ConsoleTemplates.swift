// SPDX-License-Identifier: Apache-2.0

import Mustache

/// The console's Mustache templates: a layout and one template per page, compiled once at start.
///
/// `{{x}}` escapes HTML; `{{{x}}}` is used only for SVG the gateway draws itself (``SVGChart``).
/// No inline script or style: the Content-Security-Policy forbids them.
enum ConsoleTemplates {
    /// Every template, by name.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in Self.templates {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("console template `\(name)` does not parse: \(error)")
            }
        }
        return library
    }()

    private static let templates: [(String, String)] = [
        ("layout", layout), ("catalog", catalog), ("model", model), ("login", login), ("message", message),
        ("logs", logs), ("log", log), ("spend", spend), ("keys", keys), ("playground", playground),
    ]

    private static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        {{#chrome}}<meta name="csrf-token" content="{{csrf}}">{{/chrome}}
        <title>{{$title}}Switchyard{{/title}} · Switchyard</title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="/console/app.css">
        <script src="/console/app.js" defer></script>
        </head>
        <body>
        {{#chrome}}
        <header class="top">
        <a class="brand" href="/">Switchyard</a>
        <nav>{{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a>{{/nav}}</nav>
        {{#user}}<form class="user" method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><span>{{name}} · {{role}}</span> <button type="submit">Sign out</button></form>{{/user}}
        </header>
        {{/chrome}}
        <main>
        {{$content}}{{/content}}
        </main>
        </body>
        </html>
        """

    private static let catalog = """
        {{<layout}}
        {{$title}}Models{{/title}}
        {{$content}}
        <h1>Models <small>{{count}} served</small></h1>
        <form class="filters" method="get" action="/">
        <label>Search <input type="search" name="q" value="{{query}}" placeholder="name, provider"></label>
        <label>Needs <select name="capability"><option value="">any capability</option>{{#capabilities}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/capabilities}}</select></label>
        <label>Sort by <select name="sort">{{#sorts}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/sorts}}</select></label>
        <button type="submit">Apply</button>
        </form>
        <table class="grid" id="catalog">
        <thead><tr><th>Model</th><th>Context</th><th>Max output</th><th>Input $/1M</th><th>Output $/1M</th><th>Modalities</th><th>Capabilities</th><th>Routes</th></tr></thead>
        <tbody>
        {{#rows}}<tr><td><a href="/models/{{link}}">{{id}}</a>{{#name}}<div class="sub">{{.}}</div>{{/name}}</td><td class="num">{{context}}</td><td class="num">{{maxOutput}}</td><td class="num">{{inputPrice}}</td><td class="num">{{outputPrice}}</td><td>{{modalities}}</td><td>{{#capabilities}}<span class="tag">{{.}}</span>{{/capabilities}}</td><td>{{routes}}</td></tr>
        {{/rows}}
        {{^rows}}<tr><td colspan="8">No model matches.</td></tr>{{/rows}}
        </tbody>
        </table>
        {{/content}}
        {{/layout}}
        """

    private static let model = """
        {{<layout}}
        {{$title}}{{id}}{{/title}}
        {{$content}}
        <h1>{{id}}{{#name}} <small>{{.}}</small>{{/name}}</h1>
        <dl class="facts">
        <dt>Kind</dt><dd>{{kind}}</dd>
        <dt>Context window</dt><dd>{{context}}</dd>
        <dt>Max output</dt><dd>{{maxOutput}}</dd>
        <dt>Prices (USD per 1M tokens)</dt><dd>{{prices}}</dd>
        <dt>Modalities</dt><dd>{{modalities}}</dd>
        <dt>Knowledge cutoff</dt><dd>{{cutoff}}</dd>
        <dt>Strategy</dt><dd>{{strategy}}</dd>
        <dt>Capabilities</dt><dd>{{#capabilities}}<span class="tag">{{.}}</span>{{/capabilities}}{{^capabilities}}none{{/capabilities}}</dd>
        <dt>Supported parameters</dt><dd class="params">{{#parameters}}<code>{{.}}</code> {{/parameters}}</dd>
        </dl>
        {{#hasWarnings}}<section class="watch"><h2>Watch out for</h2><ul>{{#warnings}}<li>{{.}}</li>{{/warnings}}</ul></section>{{/hasWarnings}}
        <h2>Routes</h2>
        <table class="grid" id="routes">
        <thead><tr><th>Provider</th><th>Upstream model</th><th>Input</th><th>Cached input</th><th>Output</th><th>Context</th><th>Max output</th><th>Zero data retention</th><th>Limits</th></tr></thead>
        <tbody>{{#routes}}<tr><td>{{provider}}</td><td>{{upstream}}</td><td class="num">{{input}}</td><td class="num">{{cachedInput}}</td><td class="num">{{output}}</td><td class="num">{{context}}</td><td class="num">{{maxOutput}}</td><td>{{zdr}}</td><td>{{limits}}</td></tr>{{/routes}}</tbody>
        </table>
        <h2>Live statistics</h2>
        <table class="grid" id="stats">
        <thead><tr><th>Route</th><th>Window</th><th>Calls</th><th>P50 tokens/s</th><th>P50 / P95 TTFT</th><th>Success</th><th>Uptime</th><th>Trend (success, TTFT, tokens/s)</th></tr></thead>
        <tbody>{{#stats}}<tr><td>{{route}}</td><td>{{window}}</td><td class="num">{{calls}}</td><td class="num">{{tps}}</td><td class="num">{{ttft}}</td><td class="num">{{success}}</td><td class="num">{{uptime}}</td><td class="spark">{{{successSpark}}} {{{ttftSpark}}} {{{tpsSpark}}}</td></tr>{{/stats}}</tbody>
        </table>
        <h2>Call it through this gateway</h2>
        <div class="snippets">{{#snippets}}<figure><figcaption>{{title}} <button type="button" class="copy" data-copy="{{id}}">Copy</button></figcaption><pre id="{{id}}"><code>{{code}}</code></pre></figure>{{/snippets}}</div>
        {{/content}}
        {{/layout}}
        """

    private static let login = """
        {{<layout}}
        {{$title}}Sign in{{/title}}
        {{$content}}
        <h1>Sign in</h1>
        {{#error}}<p class="error" role="alert">{{.}}</p>{{/error}}
        <form class="login" method="post" action="/login">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="next" value="{{next}}">
        <label>Master key, admin or viewer key, or an OIDC token <input type="password" name="key" autocomplete="current-password" required autofocus></label>
        <button type="submit">Sign in</button>
        </form>
        {{#sso}}<p class="sso"><a class="button" href="{{ssoLink}}">Sign in with {{.}}</a></p>{{/sso}}
        {{/content}}
        {{/layout}}
        """

    private static let message = """
        {{<layout}}
        {{$title}}{{heading}}{{/title}}
        {{$content}}
        <h1>{{heading}}</h1>
        <p>{{text}}</p>
        {{/content}}
        {{/layout}}
        """

    private static let logs = """
        {{<layout}}
        {{$title}}Logs{{/title}}
        {{$content}}
        <h1>Request log</h1>
        <form class="filters" method="get" action="/logs">
        <label>Search <input type="search" name="q" value="{{q}}" size="34" placeholder="request id, model, error, key"></label>
        <label>Model <input name="model" value="{{model}}"></label>
        <label>Key <input name="key" value="{{key}}"></label>
        <label>Status <input name="status" value="{{status}}" inputmode="numeric" size="4"></label>
        <button type="submit">Filter</button>
        <span class="exports">Export <a href="/logs/export?format=csv{{exportQuery}}">CSV</a> <a href="/logs/export?format=jsonl{{exportQuery}}">JSONL</a></span>
        </form>
        <table class="grid" id="logs">
        <thead><tr><th>Time (UTC)</th><th>Model</th><th>Route</th><th>Key</th><th>Status</th><th>Tokens in / out</th><th>Cost</th><th>Latency</th><th>TTFT</th></tr></thead>
        <tbody>{{#rows}}<tr><td><a href="/logs/{{id}}">{{time}}</a></td><td>{{model}}</td><td>{{route}}</td><td>{{key}}</td><td class="status s{{statusClass}}">{{status}}</td><td class="num">{{tokens}}</td><td class="num">{{cost}}</td><td class="num">{{latency}}</td><td class="num">{{ttft}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="9">No request matches.</td></tr>{{/rows}}</tbody>
        </table>
        {{#older}}<p><a href="/logs?{{.}}">Older</a></p>{{/older}}
        {{#q}}<p class="muted">A search reads the newest 20,000 requests (before the page's time); filter by model, key or status to reach further back faster.</p>{{/q}}
        {{/content}}
        {{/layout}}
        """

    private static let log = """
        {{<layout}}
        {{$title}}{{id}}{{/title}}
        {{$content}}
        <h1>Request <code>{{id}}</code></h1>
        <dl class="facts">{{#fields}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/fields}}</dl>
        <h2>Request body</h2>
        {{#requestBody}}<pre class="body">{{.}}</pre>{{/requestBody}}{{^requestBody}}<p class="muted">{{bodyNote}}</p>{{/requestBody}}
        <h2>Response body</h2>
        {{#responseBody}}<pre class="body">{{.}}</pre>{{/responseBody}}{{^responseBody}}<p class="muted">{{bodyNote}}</p>{{/responseBody}}
        {{/content}}
        {{/layout}}
        """

    private static let spend = """
        {{<layout}}
        {{$title}}Spend{{/title}}
        {{$content}}
        <h1>Spend <small>last {{days}} days · {{total}} · saved by the cache {{saved}}</small></h1>
        <form class="filters" method="get" action="/spend">
        <label>By <select name="by">{{#dimensions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/dimensions}}</select></label>
        <label>Days <select name="days">{{#ranges}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/ranges}}</select></label>
        <button type="submit">Show</button>
        </form>
        <h2>Cost per day (USD)</h2>
        <div id="cost-chart">{{{costChart}}}</div>
        <h2>Calls per day</h2>
        <div id="calls-chart">{{{callsChart}}}</div>
        <h2>Totals</h2>
        <table class="grid" id="spend-totals"><thead><tr><th>{{byLabel}}</th><th>Calls</th><th>Input tokens</th><th>Output tokens</th><th>Cost (USD)</th><th>Saved by the cache (USD)</th></tr></thead>
        <tbody>{{#totals}}<tr><td>{{name}}</td><td class="num">{{calls}}</td><td class="num">{{input}}</td><td class="num">{{output}}</td><td class="num">{{cost}}</td><td class="num">{{saved}}</td></tr>{{/totals}}
        {{^totals}}<tr><td colspan="6">No calls in this range.</td></tr>{{/totals}}</tbody></table>
        <h2>Budgets</h2>
        <table class="grid" id="budgets"><thead><tr><th>Key or team</th><th>Budget</th><th>Period</th><th>Spent</th><th>Remaining</th></tr></thead>
        <tbody>{{#budgets}}<tr><td>{{name}}</td><td class="num">{{budget}}</td><td>{{period}}</td><td class="num">{{spent}}</td><td class="num">{{remaining}}</td></tr>{{/budgets}}
        {{^budgets}}<tr><td colspan="5">No key or team has a budget.</td></tr>{{/budgets}}</tbody></table>
        {{/content}}
        {{/layout}}
        """

    private static let keys = """
        {{<layout}}
        {{$title}}Keys{{/title}}
        {{$content}}
        <h1>Virtual keys</h1>
        {{#secret}}<div class="secret" role="status"><p>The secret of <strong>{{name}}</strong>, shown once: copy it now.</p><pre id="new-secret"><code>{{value}}</code></pre><button type="button" class="copy" data-copy="new-secret">Copy</button></div>{{/secret}}
        {{#error}}<p class="error" role="alert">{{.}}</p>{{/error}}
        {{#canChange}}
        <form class="create" method="post" action="/keys">
        <input type="hidden" name="csrf" value="{{chrome.csrf}}">
        <label>Name <input name="name" required maxlength="200"></label>
        <label>Role <select name="role"><option value="client">client</option><option value="viewer">viewer</option><option value="admin">admin</option></select></label>
        <label>Team <input name="team"></label>
        <label>Models <input name="models" placeholder="all; or a, b"></label>
        <label>Budget USD <input name="budget" inputmode="decimal" size="6"></label>
        <label>Period <select name="period"><option value="monthly">monthly</option><option value="weekly">weekly</option><option value="daily">daily</option><option value="total">total</option></select></label>
        <button type="submit">Create key</button>
        </form>
        {{/canChange}}
        <table class="grid" id="keys"><thead><tr><th>Name</th><th>Id</th><th>Role</th><th>Team</th><th>Models</th><th>Budget</th><th>Created</th><th>State</th><th></th></tr></thead>
        <tbody>{{#rows}}<tr><td>{{name}}</td><td><code>{{id}}</code></td><td>{{role}}</td><td>{{team}}</td><td>{{models}}</td><td>{{budget}}</td><td>{{created}}</td><td>{{state}}</td><td>{{#active}}{{#canChange}}<form method="post" action="/keys/{{id}}/rotate"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Rotate</button></form> <form method="post" action="/keys/{{id}}/revoke"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Revoke</button></form>{{/canChange}}{{/active}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="9">No virtual keys yet.</td></tr>{{/rows}}</tbody></table>
        {{/content}}
        {{/layout}}
        """

    private static let playground = """
        {{<layout}}
        {{$title}}Playground{{/title}}
        {{$content}}
        <h1>Playground</h1>
        <form id="playground" class="playground">
        <div class="models">
        <label>Model A <select name="model_a">{{#models}}<option value="{{.}}"{{#first()}} selected{{/first()}}>{{.}}</option>{{/models}}</select></label>
        <label>Model B <select name="model_b"><option value="">none (one model)</option>{{#models}}<option value="{{.}}">{{.}}</option>{{/models}}</select></label>
        <label>Temperature <input name="temperature" inputmode="decimal" value="0.7" size="4"></label>
        <label>Max tokens <input name="max_tokens" inputmode="numeric" value="256" size="6"></label>
        </div>
        <label>System <textarea name="system" rows="2">You are a helpful assistant.</textarea></label>
        <label>User <textarea name="user" rows="4" required>Write a haiku about railway switchyards.</textarea></label>
        <button type="submit">Run</button>
        </form>
        <div class="answers">
        <section class="answer" id="answer-a" hidden><h2 class="title"></h2><div class="text"></div><dl class="meta"></dl></section>
        <section class="answer" id="answer-b" hidden><h2 class="title"></h2><div class="text"></div><dl class="meta"></dl></section>
        </div>
        {{/content}}
        {{/layout}}
        """
}
