extension Page {
    static let script = #"""
    "use strict";
    const $ = (id) => document.getElementById(id);
    const svgNS = "http://www.w3.org/2000/svg";

    async function call(path, body) {
      const response = await fetch(path, body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const reply = await response.json();
      if (!response.ok) throw new Error((reply.error && reply.error.message) || reply.error || response.statusText);
      return reply;
    }

    /// Hands each server-sent event's data to `handle` as it arrives; `handle` returning false stops.
    async function readEvents(response, handle) {
      const reader = response.body.getReader(), decoder = new TextDecoder();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        pending += decoder.decode(value, { stream: true });
        const events = pending.split("\n\n");
        pending = events.pop();
        for (const event of events) {
          if (handle(event.replace(/^data: /, "")) === false) return;
        }
      }
    }

    function showError(element, error) {
      element.innerHTML = "";
      const line = document.createElement("p");
      line.className = "error";
      line.textContent = error.message;
      element.appendChild(line);
    }

    async function busy(button, work) {
      button.disabled = true;
      try { await work(); } finally { button.disabled = false; }
    }

    function svg(tag, attributes, parent) {
      const element = document.createElementNS(svgNS, tag);
      for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
      if (parent) parent.appendChild(element);
      return element;
    }

    function bars(parent, entries) {
      const top = Math.max(...entries.map((e) => e[1]), 1e-12);
      for (const [name, value] of entries) {
        const row = document.createElement("div");
        row.className = "bar";
        row.innerHTML = '<span></span><div class="track"><div class="fill"></div></div><span></span>';
        row.children[0].textContent = name;
        row.querySelector(".fill").style.width = (100 * value / top).toFixed(1) + "%";
        row.children[2].textContent = (100 * value).toFixed(1) + "%";
        parent.appendChild(row);
      }
    }

    // MARK: models

    async function start() {
      const server = await call("/v2");
      const index = await call("/v2/repository/index", {});
      $("server").textContent = `${server.name} · ${index.length} model${index.length === 1 ? "" : "s"} · extensions: ${server.extensions.join(", ")}`;
      const list = $("models");
      const configs = await Promise.all(index.map((entry) => call(`/v2/models/${encodeURIComponent(entry.name)}/config`)));
      for (const config of configs) {
        const item = document.createElement("li");
        item.dataset.model = config.name;
        item.innerHTML = "<span></span><small></small>";
        item.children[0].textContent = config.name;
        item.children[1].textContent = config.task;
        item.addEventListener("click", () => choose(item, config));
        list.appendChild(item);
      }
      list.dataset.ready = "true";
      if (list.firstChild) list.firstChild.click();
    }

    function choose(item, config) {
      for (const other of document.querySelectorAll("#models li")) other.classList.toggle("selected", other === item);
      const templates = { "language-model": "languageModelPanel", "forecast": "forecastPanel", "seq2seq": "translatePanel", "chat": "chatPanel",
                          "anomaly": "anomalyPanel", "music-tunes": "musicPanel", "music-chorales": "musicPanel", "strokes": "strokesPanel" };
      let template = templates[config.task] || "tensorPanel";
      if (config.task === "classify" && config.reads_text) template = "classifyPanel";
      const panel = $("panel");
      panel.innerHTML = "";
      panel.appendChild($(template).content.cloneNode(true));
      panel.querySelector(".title").textContent = `${config.name} (${config.task})`;
      panel.dataset.model = config.name;
      ({ languageModelPanel, forecastPanel, classifyPanel, translatePanel, chatPanel, anomalyPanel, musicPanel, strokesPanel, tensorPanel })[template](config);
    }

    const modelPath = (config, endpoint) => `/v2/models/${encodeURIComponent(config.name)}/${endpoint}`;

    // MARK: language models

    function languageModelPanel(config) {
      $("generate").addEventListener("click", (event) => busy(event.target, async () => {
        const output = $("generated");
        output.textContent = $("prompt").value;
        $("completions").innerHTML = "";
        const body = { text_input: $("prompt").value, parameters: {
          max_tokens: Number($("maxTokens").value), temperature: Number($("temperature").value), seed: Number($("seed").value) } };
        const response = await fetch(modelPath(config, "generate_stream"), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        if (!response.ok) return showError(output, new Error((await response.json()).error));
        let failed = false;
        await readEvents(response, (text) => {
          const data = JSON.parse(text);
          if (data.error) { failed = true; showError(output, new Error(data.error)); return false; }
          output.textContent += data.text_output;
        });
        if (!failed) output.dataset.done = "true";
      }));
      $("complete").addEventListener("click", (event) => busy(event.target, async () => {
        const target = $("completions");
        target.innerHTML = "";
        try {
          const reply = await call(modelPath(config, "complete"), { text: $("prompt").value, count: 8 });
          const heading = document.createElement("h3");
          heading.textContent = "Completions";
          target.appendChild(heading);
          bars(target, reply.completions.map((c) => [c.text, c.probability]));
        } catch (error) { showError(target, error); }
      }));
    }

    // MARK: forecasts

    const airline = "112 118 132 129 121 135 148 148 136 119 104 118 115 126 141 135 125 149 170 170 158 133 114 140 145 150 178 163 172 178 199 199 184 162 146 166 171 180 193 181 183 218 230 242 209 191 172 194";

    function forecastPanel(config) {
      $("history").value = airline;
      $("steps").value = Math.max(12, config.horizon || 1);
      $("forecast").addEventListener("click", (event) => busy(event.target, async () => {
        const history = $("history").value.split(/[\s,;]+/).filter((s) => s.length).map(Number);
        const dates = $("dates").value.split(/[\s,;]+/).filter((s) => s.length);
        const body = { history, steps: Number($("steps").value) };
        if (dates.length) body.dates = dates;
        try {
          const reply = await call(modelPath(config, "forecast"), body);
          drawForecast($("chart"), history, reply.forecast.map((f) => f.value), config.features ? config.features[0] : "value");
          const table = $("forecastTable");
          table.innerHTML = "<tr><th>step</th><th>date</th><th>value</th></tr>";
          for (const row of reply.forecast) {
            const line = table.insertRow();
            [row.step, row.date || "", row.value.toFixed(2)].forEach((v) => { line.insertCell().textContent = v; });
          }
        } catch (error) { showError($("chart"), error); }
      }));
    }

    function drawForecast(target, history, forecast, name) {
      target.innerHTML = "";
      const width = 720, height = 300, left = 50, right = 15, top = 20, bottom = 30;
      const all = history.concat(forecast), count = all.length;
      const low = Math.min(...all), high = Math.max(...all), span = high - low || 1;
      const x = (i) => left + (width - left - right) * i / Math.max(count - 1, 1);
      const y = (v) => top + (height - top - bottom) * (1 - (v - low) / span);
      const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" }, target);
      for (const v of [low, low + span / 2, high]) {
        svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#e3e7ee" }, chart);
        svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", fill: "#667085" }, chart).textContent = v.toFixed(0);
      }
      const path = (values, offset) => values.map((v, i) => `${i ? "L" : "M"}${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`).join("");
      svg("path", { d: path(history, 0), fill: "none", stroke: "#2f6fde", "stroke-width": 2, class: "history" }, chart);
      const joined = [history[history.length - 1]].concat(forecast);
      svg("path", { d: path(joined, history.length - 1), fill: "none", stroke: "#e0702f", "stroke-width": 2.5, "stroke-dasharray": "6 4", class: "forecast" }, chart);
      svg("line", { x1: x(history.length - 1), x2: x(history.length - 1), y1: top, y2: height - bottom, stroke: "#c5ccd8", "stroke-dasharray": "2 3" }, chart);
      svg("text", { x: left, y: height - 8, fill: "#2f6fde" }, chart).textContent = `${name}: history (${history.length})`;
      svg("text", { x: width - right, y: height - 8, fill: "#e0702f", "text-anchor": "end" }, chart).textContent = `forecast (${forecast.length})`;
    }

    // MARK: classifiers

    function classifyPanel(config) {
      $("classify").addEventListener("click", (event) => busy(event.target, async () => {
        const target = $("classes");
        target.innerHTML = "";
        const texts = $("texts").value.split("\n").filter((t) => t.trim().length);
        try {
          const reply = await call(modelPath(config, "classify"), { texts });
          for (const prediction of reply.predictions) {
            const block = document.createElement("div");
            block.className = "prediction";
            const title = document.createElement("b");
            title.textContent = `${prediction.label} · “${prediction.text}”`;
            block.appendChild(title);
            bars(block, reply.labels.map((label) => [label, prediction.probabilities[label]]));
            target.appendChild(block);
          }
        } catch (error) { showError(target, error); }
      }));
    }

    // MARK: encoder-decoders

    function translatePanel(config) {
      $("translate").addEventListener("click", (event) => busy(event.target, async () => {
        try {
          const reply = await call(modelPath(config, "translate"), { text: $("source").value, beam: Number($("beam").value), attention: true });
          $("translation").textContent = reply.translation;
          drawAttention($("heatmap"), reply.source_tokens, reply.tokens, reply.attention || []);
        } catch (error) { showError($("heatmap"), error); }
      }));
    }

    function drawAttention(target, sources, outputs, weights) {
      target.innerHTML = "";
      if (!weights.length) { target.textContent = "This model has no attention."; return; }
      const cell = 34, left = 70, top = 60;
      // Shades run from white to the matrix's largest weight, so that a spread-out attention still shows its shape.
      const strongest = Math.max(...weights.flat(), 1e-9);
      const width = left + cell * sources.length + 10, height = top + cell * outputs.length + 10;
      const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, style: `max-width:${width * 1.3}px`, role: "img" }, target);
      svg("text", { x: left, y: 16, fill: "#667085" }, chart).textContent = `attention (darkest: ${strongest.toFixed(3)})`;
      sources.forEach((token, j) => svg("text", { x: left + cell * (j + 0.5), y: top - 10, "text-anchor": "middle" }, chart).textContent = token);
      outputs.forEach((token, i) => {
        svg("text", { x: left - 8, y: top + cell * (i + 0.6), "text-anchor": "end" }, chart).textContent = token;
        (weights[i] || []).forEach((w, j) => {
          const level = w / strongest;
          const rect = svg("rect", { x: left + cell * j, y: top + cell * i, width: cell - 2, height: cell - 2, rx: 3,
                                     fill: `rgb(${Math.round(255 - 208 * level)},${Math.round(255 - 144 * level)},${Math.round(255 - 33 * level)})`,
                                     class: "weight" }, chart);
          svg("title", {}, rect).textContent = `${token} ← ${sources[j]}: ${w.toFixed(3)}`;
        });
      });
    }

    // MARK: chat models

    function chatPanel(config) {
      const messages = [];
      const rerank = $("rerank");
      for (const name of config.rerankings || ["none"]) rerank.add(new Option(name, name));
      const say = (role, text) => {
        const item = document.createElement("li");
        item.className = role;
        item.textContent = text;
        $("conversation").appendChild(item);
        return item;
      };
      $("restart").addEventListener("click", () => { messages.length = 0; $("conversation").innerHTML = ""; });
      const send = () => !$("send").disabled && busy($("send"), async () => {
        const text = $("message").value.trim();
        if (!text) return;
        messages.push({ role: "user", content: text });
        say("user", text);
        $("message").value = "";
        const reply = say("assistant", "");
        const body = { model: config.name, messages, stream: true, rerank: rerank.value };
        if ($("decoding").value === "sample") body.temperature = 0.8;
        const response = await fetch("/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        if (!response.ok) { messages.pop(); return showError(reply, new Error((await response.json()).error.message)); }
        let failed = false;
        await readEvents(response, (data) => {
          if (data === "[DONE]") return;
          const chunk = JSON.parse(data);
          if (chunk.error) { failed = true; showError(reply, new Error(chunk.error.message)); return false; }
          for (const choice of chunk.choices) reply.textContent += choice.delta.content || "";
        });
        if (failed) { messages.pop(); return; }
        messages.push({ role: "assistant", content: reply.textContent });
        reply.dataset.done = "true";
      });
      $("send").addEventListener("click", send);
      $("message").addEventListener("keydown", (event) => { if (event.key === "Enter") send(); });
    }

    // MARK: anomaly detectors

    function anomalyPanel(config) {
      // A made-up signal until one is pasted: a steady rhythm with a burst of noise in it.
      $("readings").value = Array.from({ length: 1200 }, (_, i) =>
        (Math.sin(i / 6) * 0.5 + (i > 800 && i < 840 ? Math.sin(i * 1.7) * 1.5 : 0)).toFixed(3)).join(" ");
      $("threshold").value = Number(config.threshold.toPrecision(6));
      const read = () => $("readings").value.split(/[\s,;]+/).filter((s) => s.length).map(Number);
      const show = (values, scores, threshold, ranges) => {
        drawAnomalies($("anomalyChart"), values, scores, threshold, ranges);
        const alarms = scores.filter((s) => s > threshold).length;
        $("anomalyChart").dataset.scored = String(scores.length);
        $("anomalyChart").dataset.alarms = String(alarms);
        $("anomalySummary").textContent = `${scores.length} of ${values.length} readings scored; ${alarms} above ${threshold}; ` +
          `${ranges.length} range${ranges.length === 1 ? "" : "s"}` + (ranges.length ? ": " + ranges.map((r) => `${r.start}-${r.end}`).join(", ") : "");
      };
      $("score").addEventListener("click", (event) => busy(event.target, async () => {
        try {
          const values = read(), threshold = Number($("threshold").value);
          const reply = await call(modelPath(config, "detect"), { values, threshold });
          show(values, reply.scores, threshold, reply.ranges);
        } catch (error) { showError($("anomalyChart"), error); }
      }));
      // The server keeps the detector's state between the pieces (a sequence), so the scores are the whole signal's.
      $("monitor").addEventListener("click", (event) => busy(event.target, async () => {
        try {
          const values = read(), threshold = Number($("threshold").value), id = `page-${Date.now()}`;
          let scores = [], ranges = [];
          for (let start = 0; start < values.length; start += 100) {
            const piece = values.slice(start, start + 100);
            const reply = await call(modelPath(config, "detect"), { values: piece, threshold, sequence_id: id,
              sequence_start: start === 0, sequence_end: start + 100 >= values.length });
            scores = scores.concat(reply.scores);
            ranges = ranges.concat(reply.ranges);
            show(values, scores, threshold, ranges);
          }
        } catch (error) { showError($("anomalyChart"), error); }
      }));
    }

    function drawAnomalies(target, values, scores, threshold, ranges) {
      target.innerHTML = "";
      const width = 720, height = 340, left = 50, right = 15, split = 200, bottom = 25;
      const count = values.length, x = (i) => left + (width - left - right) * i / Math.max(count - 1, 1);
      const low = Math.min(...values), high = Math.max(...values), span = high - low || 1;
      const y = (v) => 15 + (split - 30) * (1 - (v - low) / span);
      const top = Math.max(threshold * 1.5, ...scores, 1e-9);
      const ys = (s) => split + (height - split - bottom) * (1 - Math.min(s, top) / top);
      const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" }, target);
      for (const r of ranges) {
        svg("rect", { x: x(r.start), y: 10, width: Math.max(2, x(r.end) - x(r.start)), height: height - bottom - 10,
                      fill: "#fde2dc", class: "range" }, chart);
      }
      const line = (points, f) => points.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${f(v).toFixed(1)}`).join("");
      svg("path", { d: line(values, y), fill: "none", stroke: "#2f6fde", "stroke-width": 1.2, class: "signal" }, chart);
      svg("path", { d: line(scores, ys), fill: "none", stroke: "#e0702f", "stroke-width": 1.5, class: "score" }, chart);
      svg("line", { x1: left, x2: width - right, y1: ys(threshold), y2: ys(threshold), stroke: "#b42318", "stroke-dasharray": "5 4" }, chart);
      svg("text", { x: left - 6, y: ys(threshold) + 4, "text-anchor": "end", fill: "#b42318" }, chart).textContent = threshold.toPrecision(3);
      svg("text", { x: left, y: height - 6, fill: "#2f6fde" }, chart).textContent = `signal (${count} readings)`;
      svg("text", { x: width - right, y: height - 6, fill: "#e0702f", "text-anchor": "end" }, chart).textContent =
        `score (${scores.length}), threshold dashed; flagged ranges shaded`;
    }

    // MARK: music and strokes

    function musicPanel(config) {
      const tunes = config.task === "music-tunes";
      for (const label of document.querySelectorAll(".tunesOnly")) label.classList.toggle("hidden", !tunes);
      $("compose").addEventListener("click", (event) => busy(event.target, async () => {
        const body = { count: Number($("pieces").value), temperature: Number($("musicTemperature").value), seed: Number($("musicSeed").value) };
        if (tunes && $("meter").value.trim()) body.meter = $("meter").value.trim();
        if (tunes && $("key").value.trim()) body.key = $("key").value.trim();
        try {
          const reply = await call(modelPath(config, "compose"), body);
          $("abc").textContent = reply.abc || "";
          $("abc").classList.toggle("hidden", !tunes);
          // The server's own picture of the rolls (its text is escaped there).
          $("roll").innerHTML = reply.svg || "";
          const link = $("midiLink");
          link.href = "data:audio/midi;base64," + reply.midi;
          link.download = `${config.name}-seed${body.seed}.mid`;
          link.classList.remove("hidden");
          $("roll").dataset.done = "true";
        } catch (error) { showError($("roll"), error); }
      }));
    }

    function strokesPanel(config) {
      $("condition").value = (config.characters || []).slice(0, 3).join("");
      $("draw").addEventListener("click", (event) => busy(event.target, async () => {
        const body = { count: Number($("drawings").value), temperature: Number($("strokeTemperature").value), seed: Number($("strokeSeed").value) };
        if ($("condition").value.trim()) body.condition = $("condition").value.trim();
        try {
          const reply = await call(modelPath(config, "draw"), body);
          $("grid").innerHTML = reply.svg;
          $("grid").dataset.done = "true";
        } catch (error) { showError($("grid"), error); }
      }));
    }

    // MARK: tensors

    function tensorPanel(config) {
      call(`/v2/models/${encodeURIComponent(config.name)}`).then((metadata) => {
        const table = $("signature");
        table.innerHTML = "<tr><th></th><th>name</th><th>datatype</th><th>shape</th></tr>";
        for (const [kind, list] of [["input", metadata.inputs], ["output", metadata.outputs]]) {
          for (const tensor of list) {
            const row = table.insertRow();
            [kind, tensor.name, tensor.datatype, JSON.stringify(tensor.shape)].forEach((v) => { row.insertCell().textContent = v; });
          }
        }
        const x = metadata.inputs[0];
        const shape = x.shape.map((d, i) => (d > 0 ? d : i === 1 ? 3 : 1));
        const count = shape.reduce((a, b) => a * b, 1);
        $("tensors").value = JSON.stringify([{ name: "x", datatype: "FP32", shape, data: Array.from({ length: count }, (_, i) => +(Math.sin(i)).toFixed(3)) }]);
      });
      $("infer").addEventListener("click", (event) => busy(event.target, async () => {
        try {
          const reply = await call(modelPath(config, "infer"), { inputs: JSON.parse($("tensors").value) });
          const shown = (data) => data.map((v) => (typeof v === "number" ? Number(v.toPrecision(6)) : v));
          $("tensorOutput").textContent = reply.outputs.map((o) => `${o.name} ${o.datatype} ${JSON.stringify(o.shape)}\n${JSON.stringify(shown(o.data))}`).join("\n\n");
        } catch (error) { showError($("tensorOutput"), error); }
      }));
    }

    start().catch((error) => showError($("panel"), error));
    """#
}
