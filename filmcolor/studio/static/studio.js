// filmcolor studio: hints placed on the picture, each change sent to the server, which colours the picture
// with the library's Colorizer and sends it back. Hints are kept here, in pixels of the full picture, as
// the points of the hints JSON that `filmcolor image --hints` reads.
"use strict";

const $ = (id) => document.getElementById(id);
const HEADER = {"X-Filmcolor-Studio": "1"};
const state = {
  picture: null,     // the server's PictureInfo: id, name, kind, width, height, save_stem, frames, frame_rate
  hints: [],         // {x, y, color: "#rrggbb", radius}
  selected: -1,
  frame: 0,
  nameEdited: false,
  pending: false,    // a change not yet rendered
  inFlight: false,   // one render request at a time; changes made meanwhile go in the next one
  drag: null,        // {index, pointerId}
  recent: [],        // colours used, newest first
  imageUrl: null,
  renders: 0,
};

async function post(path, body, raw) {
  const init = raw
    ? {method: "POST", headers: {...HEADER, "Content-Type": "application/octet-stream"}, body}
    : {method: "POST", headers: {...HEADER, "Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, init);
  if (!response.ok) {
    let text = `${response.status} ${response.statusText}`;
    try { text = (await response.json()).error || text; } catch (e) { /* not JSON */ }
    throw new Error(text);
  }
  return response;
}

// A request about the open picture. The server keeps the last few pictures opened (any tab's): one dropped since
// (or a restarted server) answers "no longer open"; a picture of the folder is then opened again, its hints
// kept, and the request sent once more (an audit: the hints were lost, and the same file could not be chosen).
async function postForPicture(path, body) {
  try {
    return await post(path, body());
  } catch (err) {
    if (!err.message.includes("no longer open") || !state.picture || !state.picture.path) throw err;
    const info = await (await post("/api/open", {path: state.picture.path})).json();
    state.picture.id = info.id;
    return await post(path, body());
  }
}

let messageTimer = null;
function say(text, kind) {
  const box = $("message");
  box.textContent = text;
  box.className = kind || "";
  box.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { box.hidden = true; }, kind === "info" ? 4000 : 12000);
}

// ---- opening ----

async function loadState() {
  const response = await fetch("/api/state");
  const info = await response.json();
  if (!response.ok) { say(info.error || "the studio's server could not list its folder", "error"); return; }
  $("model").textContent = `${info.model.split("/").pop()} · render size ${info.render_size} · ${info.folder}`;
  const select = $("files");
  for (const path of info.files) {
    const option = document.createElement("option");
    option.value = option.textContent = path;
    select.appendChild(option);
  }
  if (info.listed_of > info.files.length) {
    say(`the list shows the first ${info.files.length} of the folder's ${info.listed_of} photos and films; ` +
        "start the studio on a smaller folder to see the others", "info");
  }
  if (info.opened) setPicture(info.opened);
}

function setPicture(info) {
  state.picture = info;
  state.hints = [];
  state.selected = -1;
  state.frame = 0;
  state.nameEdited = false;
  $("name").textContent = `${info.name} (${info.width}×${info.height})`;
  $("empty").hidden = true;
  $("canvas").hidden = false;
  $("save").disabled = false;
  const film = info.kind === "video";
  $("film").hidden = !film;
  if (film) {
    $("frame-slider").max = info.frames ? info.frames - 1 : 9999;
    $("frame-slider").value = 0;
    $("frame-number").value = 0;
    $("frame-time").textContent = "";
  }
  const longSide = Math.max(info.width, info.height);
  $("radius").max = Math.max(10, Math.round(longSide / 8));
  $("radius").value = Math.max(1, Math.round(longSide / 100));
  showRadius();
  $("save-name").value = defaultName();
  $("command").hidden = true;
  $("saved").textContent = "";
  drawMarks();
  requestRender();
}

function defaultName() {
  const info = state.picture;
  return info.kind === "video" ? `${info.save_stem}${state.frame}` : info.save_stem;
}

async function openFile(path) {
  if (!path) return;
  try {
    setPicture({...(await (await post("/api/open", {path})).json()), path});
  } catch (err) {
    say(err.message);
  }
}

async function upload(file) {
  try {
    setPicture(await (await post(`/api/upload?name=${encodeURIComponent(file.name)}`, file, true)).json());
  } catch (err) {
    say(err.message);
  }
}

// ---- colouring ----

function requestRender() {
  state.pending = true;
  if (!state.inFlight) pump();
}

async function pump() {
  state.inFlight = true;
  document.body.dataset.busy = "1";
  while (state.pending && state.picture) {
    state.pending = false;
    const picture = state.picture;
    const started = performance.now();
    try {
      const response = await postForPicture("/api/render",
        () => ({picture: picture.id, frame: state.frame, points: state.hints}));
      const blob = await response.blob();
      if (picture !== state.picture) continue;  // another picture was opened meanwhile
      const url = URL.createObjectURL(blob);
      await new Promise((resolve) => { $("picture").onload = resolve; $("picture").onerror = resolve; $("picture").src = url; });
      if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
      state.imageUrl = url;
      const time = response.headers.get("X-Frame-Time");
      if (time !== null) $("frame-time").textContent = formatTime(parseFloat(time));
      $("timing").textContent = `coloured in ${response.headers.get("X-Render-Ms")} ms on the server, `
        + `${Math.round(performance.now() - started)} ms here`;
      state.renders += 1;
      document.body.dataset.renders = String(state.renders);
      drawMarks();
    } catch (err) {
      say(err.message);
    }
  }
  state.inFlight = false;
  document.body.dataset.busy = "";
}

function formatTime(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  const pad = (n, w) => String(n).padStart(w, "0");
  return `${seconds.toFixed(3)} s (${pad(h, 2)}:${pad(m, 2)}:${pad(s.toFixed(3), 6)})`;
}

// ---- hints ----

function drawMarks() {
  const marks = $("marks");
  marks.replaceChildren();
  const picture = state.picture;
  if (!picture) return;
  const scale = $("picture").clientWidth / picture.width || 1;
  state.hints.forEach((hint, index) => {
    const mark = document.createElement("div");
    mark.className = "mark" + (index === state.selected ? " selected" : "");
    mark.dataset.index = String(index);
    mark.style.left = `${(hint.x + 0.5) / picture.width * 100}%`;
    mark.style.top = `${(hint.y + 0.5) / picture.height * 100}%`;
    const size = `${Math.max(14, 2 * hint.radius * scale)}px`;
    mark.style.width = mark.style.height = size;
    mark.style.background = hint.color;
    mark.title = `${hint.color} at (${hint.x}, ${hint.y}), radius ${hint.radius}`;
    marks.appendChild(mark);
  });
  $("delete").disabled = state.selected < 0;
  $("clear").disabled = state.hints.length === 0;
  $("count").textContent = state.hints.length ? `${state.hints.length} hint(s).` : "";
}

function pixelAt(event) {
  const rect = $("picture").getBoundingClientRect();
  const {width, height} = state.picture;
  const x = Math.floor((event.clientX - rect.left) / rect.width * width);
  const y = Math.floor((event.clientY - rect.top) / rect.height * height);
  return {x: Math.min(width - 1, Math.max(0, x)), y: Math.min(height - 1, Math.max(0, y))};
}

function select(index) {
  state.selected = index;
  if (index >= 0) {
    $("color").value = state.hints[index].color;
    $("radius").value = state.hints[index].radius;
    showRadius();
  }
  drawMarks();
}

function removeHint(index) {
  if (index < 0 || index >= state.hints.length) return;
  state.hints.splice(index, 1);
  state.selected = -1;
  drawMarks();
  requestRender();
}

function remember(color) {
  state.recent = [color, ...state.recent.filter((c) => c !== color)].slice(0, 12);
  const swatches = $("swatches");
  swatches.replaceChildren();
  for (const c of state.recent) {
    const swatch = document.createElement("button");
    swatch.className = "swatch";
    swatch.style.background = c;
    swatch.title = c;
    swatch.addEventListener("click", () => { $("color").value = c; colourChanged(); });
    swatches.appendChild(swatch);
  }
}

function colourChanged() {
  if (state.selected >= 0) {
    state.hints[state.selected].color = $("color").value;
    drawMarks();
    requestRender();
  }
}

function showRadius() {
  $("radius-value").textContent = `${$("radius").value} px`;
}

// ---- events ----

$("canvas").addEventListener("pointerdown", (event) => {
  if (event.button !== 0 || !state.picture) return;
  event.preventDefault();
  const mark = event.target.closest(".mark");
  let index;
  if (mark) {
    index = Number(mark.dataset.index);
    select(index);
  } else {
    const {x, y} = pixelAt(event);
    state.hints.push({x, y, color: $("color").value, radius: Number($("radius").value)});
    remember($("color").value);
    index = state.hints.length - 1;
    select(index);
    requestRender();
  }
  state.drag = {index, pointerId: event.pointerId};
  $("canvas").setPointerCapture(event.pointerId);
});

$("canvas").addEventListener("pointermove", (event) => {
  if (!state.drag || state.drag.pointerId !== event.pointerId) return;
  const hint = state.hints[state.drag.index];
  const {x, y} = pixelAt(event);
  if (x === hint.x && y === hint.y) return;
  hint.x = x;
  hint.y = y;
  drawMarks();
  requestRender();
});

for (const type of ["pointerup", "pointercancel"]) {
  $("canvas").addEventListener(type, () => { state.drag = null; });
}

$("canvas").addEventListener("contextmenu", (event) => {
  const mark = event.target.closest(".mark");
  if (!mark) return;
  event.preventDefault();
  removeHint(Number(mark.dataset.index));
});

document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)
    && document.activeElement.type !== "range" && document.activeElement.type !== "color";
  if ((event.key === "Delete" || event.key === "Backspace") && !typing && state.selected >= 0) {
    event.preventDefault();
    removeHint(state.selected);
  }
});

$("color").addEventListener("input", colourChanged);
$("color").addEventListener("change", () => remember($("color").value));
$("radius").addEventListener("input", () => {
  showRadius();
  if (state.selected >= 0) {
    state.hints[state.selected].radius = Number($("radius").value);
    drawMarks();
    requestRender();
  }
});
$("delete").addEventListener("click", () => removeHint(state.selected));
$("clear").addEventListener("click", () => {
  state.hints = [];
  state.selected = -1;
  drawMarks();
  requestRender();
});

function goToFrame(value) {
  const frame = Math.max(0, Math.floor(Number(value) || 0));
  state.frame = frame;
  $("frame-slider").value = frame;
  $("frame-number").value = frame;
  if (!state.nameEdited) $("save-name").value = defaultName();
  $("command").hidden = true;
  requestRender();
}
$("frame-slider").addEventListener("input", () => goToFrame($("frame-slider").value));
$("frame-number").addEventListener("change", () => goToFrame($("frame-number").value));

$("files").addEventListener("change", () => {
  const path = $("files").value;
  $("files").value = "";  // so that choosing the same file again opens it again
  openFile(path);
});
$("upload").addEventListener("change", () => {
  const file = $("upload").files[0];
  $("upload").value = "";
  if (file) upload(file);
});
$("save-name").addEventListener("input", () => { state.nameEdited = true; });

$("save").addEventListener("click", async () => {
  if (!state.picture) return;
  try {
    const response = await postForPicture("/api/save", () => ({
      picture: state.picture.id, frame: state.frame, points: state.hints,
      name: $("save-name").value, overwrite: $("overwrite").checked,
    }));
    const saved = await response.json();
    $("saved").textContent = `saved ${saved.written.join(", ")} in ${saved.folder}`;
    if (saved.command) {
      $("command").textContent = `# colour the whole film (in ${saved.folder}):\n${saved.command}`;
      $("command").hidden = false;
    }
    say(`saved ${saved.written.join(", ")}`, "info");
  } catch (err) {
    say(err.message);
  }
});

window.addEventListener("resize", drawMarks);
loadState().catch((err) => say(`cannot reach the studio's server: ${err.message}`));
