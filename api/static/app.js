// The page is a client of POST /remove_background like any other: it reads the file as base64,
// sends JSON, and shows the answer (the cleaned page, or the code, message and detail).
"use strict";

// What each codigo_retorno means for the person using the page (the API's own `mensagem` is
// shown beside it).
const EXPLAIN = {
  1: "A requisição não chegou no formato esperado (JSON com a chave imgb64_dirty). Recarregue a página e tente de novo.",
  2: "A requisição chegou sem a imagem (chave imgb64_dirty). Recarregue a página e tente de novo.",
  3: "O arquivo não é uma imagem que o serviço consiga ler. Confira se é PNG, JPEG, GIF, BMP, TIFF ou WebP e se não está corrompido.",
  4: "A imagem é grande demais para este serviço (em bytes ou em pixels). Reduza a resolução ou recorte a página.",
  5: "O modelo que limpa as páginas não respondeu agora. Espere um pouco e tente de novo.",
  6: "Este serviço exige uma chave de API: preencha o campo “Chave de API” e envie de novo.",
  7: "Erro inesperado no serviço. Tente de novo; se continuar, informe o número do pedido à equipe.",
  8: "O serviço não conseguiu registrar o pedido agora, então não devolveu a página. Espere um pouco e tente de novo.",
  9: "A imagem é estreita ou alongada demais para ser uma página (um lado mais de 20 vezes o outro). Recorte a página ou envie-a inteira.",
  10: "A saída escolhida não existe. Recarregue a página e escolha tons de cinza, cores ou preto e branco.",
  11: "A versão do modelo em uso só devolve páginas em tons de cinza. Escolha “Tons de cinza”.",
};
// The answer's mode (the request key `saida`), as the result names it.
const MODES = { cinza: "tons de cinza", cor: "em cores", binaria: "preto e branco" };

const $ = (id) => document.getElementById(id);
let chosen = null;        // the File being cleaned
let originalUrl = null;   // object URLs, released when replaced
let cleanedUrl = null;

function setBusy(busy, text) {
  $("spinner").hidden = !busy;
  $("status-text").textContent = text;
  $("send").disabled = busy || !chosen;
  document.body.setAttribute("aria-busy", String(busy));
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);           // "data:<type>;base64,<data>"
      resolve(url.slice(url.indexOf(",") + 1));    // an empty file gives "data:" -> ""
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function pngBlob(dataUrl) {
  const bytes = atob(dataUrl.slice(dataUrl.indexOf(",") + 1));
  const array = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) array[i] = bytes.charCodeAt(i);
  return new Blob([array], { type: "image/png" });
}

function stem(name) {
  const dot = name.lastIndexOf(".");
  return (dot > 0 ? name.slice(0, dot) : name) || "pagina";
}

function replaceUrl(old, blob) {
  if (old) URL.revokeObjectURL(old);
  return URL.createObjectURL(blob);
}

async function loaded(img, url) {
  img.src = url;
  try {
    await img.decode();
    return `${img.naturalWidth} × ${img.naturalHeight} px`;
  } catch {
    return "(sem prévia neste navegador)";  // e.g. TIFF: the service reads it, the browser not
  }
}

function showError(code, message, detail, requestId) {
  $("error-code").textContent = code === null ? "—" : String(code);
  $("error-message").textContent = message;
  $("error-explain").textContent = EXPLAIN[code] || "";
  $("error-detail").textContent = detail || "";
  $("error-detail-row").hidden = !detail;
  $("error-request-id").textContent = requestId || "—";
  $("error").hidden = false;
  if (code === 6) {
    $("key-row").hidden = false;
    $("api-key").focus();
  }
}

function chosenMode() {
  return document.querySelector('input[name="saida"]:checked').value;
}

async function showResult(answer, requestId, elapsed, mode) {
  cleanedUrl = replaceUrl(cleanedUrl, pngBlob(answer.imgb64_clean));
  const [originalSize, cleanedSize] = await Promise.all([
    loaded($("original"), originalUrl), loaded($("cleaned"), cleanedUrl),
  ]);
  $("curtain-original").src = originalUrl;
  $("curtain-cleaned").src = cleanedUrl;
  $("original-size").textContent = originalSize;
  $("cleaned-size").textContent = cleanedSize;
  $("cleaned-mode").textContent = MODES[mode];
  const link = $("download");
  link.href = cleanedUrl;  // the PNG as the service sent it, shown and saved unchanged
  link.download = `${stem(chosen.name)}-limpo${mode === "cinza" ? "" : `-${mode}`}.png`;
  link.textContent = `Baixar ${link.download}`;
  $("request-id").textContent = requestId;
  $("elapsed").textContent = `${elapsed} ms`;
  $("result").hidden = false;
}

async function clean() {
  if (!chosen) return;
  $("error").hidden = true;
  $("result").hidden = true;
  setBusy(true, `Limpando ${chosen.name}…`);
  const started = performance.now();
  const headers = { "Content-Type": "application/json" };
  const key = $("api-key").value;
  if (key) headers["X-API-Key"] = key;
  try {
    const mode = chosenMode();
    const body = JSON.stringify({ imgb64_dirty: await readBase64(chosen), saida: mode });
    const response = await fetch("remove_background", { method: "POST", headers, body });
    const requestId = response.headers.get("X-Request-ID") || "";
    let answer;
    try {
      answer = await response.json();
    } catch {
      answer = { codigo_retorno: null, mensagem: `Resposta inesperada (HTTP ${response.status})` };
    }
    if (answer.codigo_retorno === 0) {
      await showResult(answer, requestId, Math.round(performance.now() - started), mode);
      setBusy(false, `Página limpa: ${chosen.name}.`);
    } else {
      showError(answer.codigo_retorno, answer.mensagem, answer.detalhe, requestId);
      setBusy(false, "A página não foi limpa.");
    }
  } catch (err) {
    showError(null, "Não foi possível falar com o serviço.", String(err), "");
    setBusy(false, "A página não foi limpa.");
  }
}

function choose(file) {
  if (!file) return;
  chosen = file;
  originalUrl = replaceUrl(originalUrl, file);
  clean();
}

function watchDrops() {
  const zone = $("drop");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) $("file").files = event.dataTransfer.files;  // shows its name
    choose(event.dataTransfer.files[0]);
  });
  // A file dropped beside the zone must not make the browser leave the page to open it.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => event.preventDefault());
  }
}

function watchViews() {
  for (const radio of document.querySelectorAll('input[name="view"]')) {
    radio.addEventListener("change", () => {
      $("pair").hidden = radio.value !== "pair";
      $("curtain").hidden = radio.value !== "curtain";
    });
  }
  const position = $("curtain-pos");
  const move = () => $("curtain-cleaned").style.setProperty("--pos", `${position.value}%`);
  position.addEventListener("input", move);
  move();
}

function fillCodes() {
  const rows = $("codes");
  for (const [code, text] of Object.entries(EXPLAIN)) {
    const row = rows.insertRow();
    row.insertCell().textContent = code;
    row.insertCell().textContent = text;
  }
}

// The key field is shown when this deployment requires one (its OpenAPI document says so).
async function showKeyFieldIfRequired() {
  try {
    const spec = await (await fetch("openapi.json")).json();
    const security = spec.paths["/remove_background"].post.security || [];
    if (security.length) $("key-row").hidden = false;
  } catch {
    $("key-row").hidden = false;  // cannot tell: offer the field rather than hide it
  }
}

$("file").addEventListener("change", (event) => choose(event.target.files[0]));
for (const radio of document.querySelectorAll('input[name="saida"]')) {
  radio.addEventListener("change", clean);  // the same page again, in the mode just chosen
}
$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  clean();
});
watchDrops();
watchViews();
fillCodes();
showKeyFieldIfRequired();
