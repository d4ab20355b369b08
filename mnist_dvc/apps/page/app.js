// The drawing pad: strokes drawn with any pointer (mouse, pen, touch) are sent to the server as a PNG
// shortly after the pen stops moving and when it lifts; a tap draws a dot; an uploaded file is sent as it is.
// Only the answer to the latest request is shown, whatever order the answers arrive in, with the reason not to
// trust it when the server gives one.
"use strict";

const PEN_WIDTH = 22;
const PAUSE_MS = 150;

const pad = document.getElementById("pad");
const pen = pad.getContext("2d");
const seen = document.getElementById("seen");
const answer = document.getElementById("answer");
const statusLine = document.getElementById("status");
const likeliest = document.getElementById("top");
const about = document.getElementById("about");

let drawing = false;
let inked = false;
let timer = null;
let sent = 0;
let shown = 0;

function blank() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, pad.width, pad.height);
  pen.fillStyle = "#fff";
  inked = false;
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * (pad.width / box.width), (event.clientY - box.top) * (pad.height / box.height)];
}

function reset(message) {
  clearTimeout(timer);
  shown = ++sent;
  answer.dataset.busy = "false";
  statusLine.textContent = message;
  statusLine.classList.remove("error");
  likeliest.replaceChildren();
  seen.getContext("2d").clearRect(0, 0, seen.width, seen.height);
}

async function send(body) {
  const request = ++sent;
  answer.dataset.busy = "true";
  let reply;
  try {
    const response = await fetch("predict", { method: "POST", body });
    reply = await response.json();
  } catch (error) {
    reply = { error: `no answer from the server (${error.message})` };
  }
  if (request < shown) return;
  shown = request;
  if (request === sent) answer.dataset.busy = "false";
  show(reply);
  answer.dataset.answers = String(Number(answer.dataset.answers) + 1);
}

// Three decimals that never round to a certainty the model does not have.
function asText(probability) {
  if (probability > 0.999) return "> 0.999";
  if (probability < 0.001) return "< 0.001";
  return probability.toFixed(3);
}

function show(reply) {
  statusLine.classList.toggle("error", "error" in reply);
  statusLine.classList.toggle("doubt", Boolean(reply.doubt));
  if ("error" in reply) {
    statusLine.textContent = reply.error;
    answer.dataset.label = "";
    return;
  }
  statusLine.textContent = reply.doubt
    ? `The model says ${reply.label}, but do not trust it: ${reply.doubt}${/[.?!]$/.test(reply.doubt) ? "" : "."}`
    : `The model says ${reply.label}.`;
  answer.dataset.label = reply.label;
  likeliest.replaceChildren(
    ...reply.top.map(([name, probability]) => {
      const row = document.createElement("li");
      const label = Object.assign(document.createElement("span"), { className: "name", textContent: name });
      const bar = Object.assign(document.createElement("span"), { className: "bar" });
      bar.style.width = `${(100 * probability).toFixed(1)}%`;
      const value = Object.assign(document.createElement("span"), {
        className: "value",
        textContent: asText(probability),
      });
      row.append(label, bar, value);
      return row;
    }),
  );
  const pixels = new ImageData(seen.width, seen.height);
  reply.image.forEach((value, index) => {
    pixels.data.set([value, value, value, 255], 4 * index);
  });
  seen.getContext("2d").putImageData(pixels, 0, 0);
}

function sendDrawing() {
  clearTimeout(timer);
  if (inked) pad.toBlob((png) => send(png), "image/png");
}

pad.addEventListener("pointerdown", (event) => {
  if (!inked) blank();
  drawing = true;
  inked = true;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  pen.beginPath(); // a dot, which a line of no length is not
  pen.arc(x, y, PEN_WIDTH / 2, 0, 2 * Math.PI);
  pen.fill();
  pen.beginPath();
  pen.moveTo(x, y);
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const [x, y] = point(event);
  pen.lineTo(x, y);
  pen.stroke();
  clearTimeout(timer);
  timer = setTimeout(sendDrawing, PAUSE_MS);
});

function lift() {
  if (!drawing) return;
  drawing = false;
  sendDrawing();
}

pad.addEventListener("pointerup", lift);
pad.addEventListener("pointercancel", lift);

document.getElementById("clear").addEventListener("click", () => {
  blank();
  reset("Draw a digit in the black square.");
});

document.getElementById("upload").addEventListener("change", async (event) => {
  const [file] = event.target.files;
  if (!file) return;
  blank();
  reset(`Reading ${file.name}…`);
  try {
    const image = await createImageBitmap(file);
    const scale = Math.min(pad.width / image.width, pad.height / image.height);
    const [width, height] = [image.width * scale, image.height * scale];
    pen.drawImage(image, (pad.width - width) / 2, (pad.height - height) / 2, width, height);
  } catch {
    // A format the browser cannot show may still be one the server reads: the answer says.
  }
  send(file);
  event.target.value = "";
});

// What the pipeline recorded of the model: which one answers, and how well it did on the test split.
async function describeModel() {
  try {
    const facts = await (await fetch("about")).json();
    const what = facts.family ? `a ${facts.family} trained on ${facts.dataset}` : "a model the pipeline has no record of";
    const score = facts.test_accuracy === null ? "" : `, test accuracy ${facts.test_accuracy.toFixed(4)}`;
    about.textContent = `Answering: ${facts.model}, ${what}${score}.`;
  } catch (error) {
    about.textContent = `The server did not say which model answers (${error.message}).`;
  }
}

pen.strokeStyle = "#fff";
pen.lineWidth = PEN_WIDTH;
pen.lineCap = "round";
pen.lineJoin = "round";
blank();
describeModel();
