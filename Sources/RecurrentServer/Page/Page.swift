/// The page at /: plain HTML, CSS and JavaScript served from these strings, with no build step.
/// It lists the models (Triton's repository index), then offers each one what its task does:
/// streamed generation and completions, a forecast drawn as a chart, class probabilities, a
/// translation with its attention as a heat map, a conversation with a chat model, a signal's
/// anomaly scores drawn (whole, or monitored a piece at a time), tunes as ABC and MIDI, chorales
/// as piano rolls, drawn characters, or a tensor call for a plain model.
enum Page {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Recurrent models</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/page.css">
    </head>
    <body>
    <header>
      <h1>Recurrent</h1>
      <span id="server">connecting…</span>
      <nav><a href="/openapi.json">OpenAPI</a> · <a href="/metrics">metrics</a></nav>
    </header>
    <main>
      <aside><h2>Models</h2><ul id="models"></ul></aside>
      <section id="panel"><p class="hint">Choose a model.</p></section>
    </main>

    <template id="languageModelPanel">
      <h2 class="title"></h2>
      <label>Prompt <textarea id="prompt" rows="4">ROMEO.</textarea></label>
      <div class="row">
        <label>Tokens <input id="maxTokens" type="number" value="200" min="1" max="10000"></label>
        <label>Temperature <input id="temperature" type="number" value="0.8" step="0.1" min="0.05"></label>
        <label>Seed <input id="seed" type="number" value="1" min="0"></label>
        <button id="generate">Generate</button>
        <button id="complete" class="secondary">Complete</button>
      </div>
      <pre id="generated" class="output"></pre>
      <div id="completions"></div>
    </template>

    <template id="forecastPanel">
      <h2 class="title"></h2>
      <label>History (numbers separated by commas, spaces or lines)
        <textarea id="history" rows="5"></textarea></label>
      <label>Dates, one per value (optional) <textarea id="dates" rows="2"></textarea></label>
      <div class="row">
        <label>Steps <input id="steps" type="number" value="12" min="1" max="10000"></label>
        <button id="forecast">Forecast</button>
      </div>
      <div id="chart" class="chart"></div>
      <table id="forecastTable"></table>
    </template>

    <template id="classifyPanel">
      <h2 class="title"></h2>
      <label>Texts, one per line <textarea id="texts" rows="5">A gorgeous, moving film.
    Tedious and empty.</textarea></label>
      <div class="row"><button id="classify">Classify</button></div>
      <div id="classes"></div>
    </template>

    <template id="translatePanel">
      <h2 class="title"></h2>
      <label>Text <input id="source" type="text" value="recurrent"></label>
      <div class="row">
        <label>Beam <input id="beam" type="number" value="5" min="1" max="64"></label>
        <button id="translate">Translate</button>
      </div>
      <p id="translation" class="output big"></p>
      <div id="heatmap" class="chart"></div>
    </template>

    <template id="chatPanel">
      <h2 class="title"></h2>
      <ol id="conversation" class="conversation"></ol>
      <label>Message <input id="message" type="text" value="Hello, how are you?"></label>
      <div class="row">
        <label>Decoding <select id="decoding"><option value="beam">beam search</option><option value="sample">sampling (temperature 0.8)</option></select></label>
        <label>Rerank <select id="rerank"></select></label>
        <button id="send">Send</button>
        <button id="restart" class="secondary">New conversation</button>
      </div>
      <p class="hint">Through OpenAI's chat completions route (<code>/v1/chat/completions</code>, streamed), the conversation so far sent with each message.</p>
    </template>

    <template id="anomalyPanel">
      <h2 class="title"></h2>
      <label>Readings (numbers separated by commas, spaces or lines) <textarea id="readings" rows="5"></textarea></label>
      <div class="row">
        <label>Threshold <input id="threshold" type="number" min="0" step="any"></label>
        <button id="score">Score</button>
        <button id="monitor" class="secondary">Monitor, 100 readings at a time</button>
      </div>
      <div id="anomalyChart" class="chart"></div>
      <p id="anomalySummary" class="hint"></p>
    </template>

    <template id="musicPanel">
      <h2 class="title"></h2>
      <div class="row">
        <label>Pieces <input id="pieces" type="number" value="2" min="1" max="64"></label>
        <label>Temperature <input id="musicTemperature" type="number" value="1" step="0.1" min="0.05"></label>
        <label>Seed <input id="musicSeed" type="number" value="1" min="0"></label>
        <label class="tunesOnly">Meter <input id="meter" type="text" placeholder="as learnt"></label>
        <label class="tunesOnly">Key <input id="key" type="text" placeholder="as learnt"></label>
        <button id="compose">Compose</button>
      </div>
      <p><a id="midiLink" class="hidden">Download the MIDI file</a></p>
      <pre id="abc" class="output"></pre>
      <div id="roll" class="chart"></div>
    </template>

    <template id="strokesPanel">
      <h2 class="title"></h2>
      <div class="row">
        <label>Characters (blank: any) <input id="condition" type="text"></label>
        <label>Drawings <input id="drawings" type="number" value="12" min="1" max="64"></label>
        <label>Temperature <input id="strokeTemperature" type="number" value="0.4" step="0.05" min="0.05"></label>
        <label>Seed <input id="strokeSeed" type="number" value="1" min="0"></label>
        <button id="draw">Draw</button>
      </div>
      <div id="grid" class="chart"></div>
    </template>

    <template id="tensorPanel">
      <h2 class="title"></h2>
      <table id="signature"></table>
      <label>Inputs (the request's "inputs" as JSON) <textarea id="tensors" rows="6"></textarea></label>
      <div class="row"><button id="infer">Run</button></div>
      <pre id="tensorOutput" class="output"></pre>
    </template>

    <script src="/page.js"></script>
    </body>
    </html>
    """#
}
