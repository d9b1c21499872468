// Opastin web chat. Plain script, no framework, no external requests.
//
// Safety: every text from the server or the user goes into the page through textContent or
// createTextNode, never innerHTML; links are built as <a> elements for http(s) URLs only.
// Accessibility: new messages are added to a role="log" live region; the language of the page
// (<html lang>) and of each message follows the conversation; focus never gets lost when the
// buttons of an answered question are removed.
"use strict";

(function () {
  const UI = {
    fi: {
      title: "Opastin – työllisyyspalvelujen chat-avustaja",
      intro: "Olen automaattinen avustaja, en ihminen. Älä kirjoita tähän henkilötunnustasi.",
      log: "Keskustelu",
      label: "Kirjoita viestisi",
      hint: "Enter lähettää, Shift+Enter vaihtaa riviä.",
      send: "Lähetä",
      you: "Sinä:",
      bot: "Opastin:",
      choices: "Vastausvaihtoehdot",
      sending: "Lähetetään…",
      failed: "Viestin lähetys epäonnistui. Yritä hetken päästä uudelleen.",
      languages: "Kieli",
    },
    sv: {
      title: "Opastin – chattassistent för sysselsättningstjänsterna",
      intro: "Jag är en automatisk assistent, inte en människa. Skriv inte din personbeteckning här.",
      log: "Samtal",
      label: "Skriv ditt meddelande",
      hint: "Enter skickar, Skift+Enter byter rad.",
      send: "Skicka",
      you: "Du:",
      bot: "Opastin:",
      choices: "Svarsalternativ",
      sending: "Skickar…",
      failed: "Meddelandet kunde inte skickas. Försök igen om en stund.",
      languages: "Språk",
    },
    en: {
      title: "Opastin – chat assistant of the employment services",
      intro: "I am an automated assistant, not a person. Do not write your personal identity code here.",
      log: "Conversation",
      label: "Write your message",
      hint: "Enter sends, Shift+Enter starts a new line.",
      send: "Send",
      you: "You:",
      bot: "Opastin:",
      choices: "Answer options",
      sending: "Sending…",
      failed: "The message could not be sent. Please try again in a moment.",
      languages: "Language",
    },
  };
  const STORE_KEY = "opastin.transcript";
  const URL_PATTERN = /https?:\/\/[^\s<>"]+/g;

  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const status = document.getElementById("status");
  let language = document.documentElement.lang || "fi";
  let transcript = [];
  let busy = false;

  function t(key) {
    return (UI[language] || UI.fi)[key];
  }

  function setLanguage(lang) {
    if (!UI[lang]) return;
    language = lang;
    document.documentElement.lang = lang;
    document.title = t("title");
    document.getElementById("title").textContent = t("title");
    document.getElementById("intro").textContent = t("intro");
    document.getElementById("log-heading").textContent = t("log");
    document.getElementById("message-label").textContent = t("label");
    document.getElementById("message-hint").textContent = t("hint");
    document.getElementById("send").textContent = t("send");
    for (const button of document.querySelectorAll("button.lang")) {
      button.setAttribute("aria-current", button.dataset.lang === lang ? "true" : "false");
    }
    for (const group of log.querySelectorAll(".choices")) {
      group.setAttribute("aria-label", t("choices"));
    }
  }

  // Text with http(s) links made clickable, built from text nodes only.
  function appendText(parent, text) {
    let last = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      let url = match[0].replace(/[.,;:!?)]+$/, "");
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      const link = document.createElement("a");
      link.href = url;
      link.textContent = url;
      parent.appendChild(link);
      last = match.index + url.length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function removeChoices() {
    for (const group of log.querySelectorAll(".choices")) group.remove();
  }

  function addMessage(entry) {
    const item = document.createElement("li");
    item.className = "msg " + entry.who;
    item.lang = entry.lang;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = (UI[entry.lang] || UI.fi)[entry.who === "user" ? "you" : "bot"] + " ";
    item.appendChild(who);
    appendText(item, entry.text);
    log.appendChild(item);
    if (entry.buttons && entry.buttons.length) {
      const group = document.createElement("div");
      group.className = "choices";
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", t("choices"));
      group.lang = entry.lang;
      for (const choice of entry.buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = choice.title;
        button.addEventListener("click", function () {
          send(choice.payload, choice.title);
        });
        group.appendChild(button);
      }
      item.appendChild(group);
    }
    return item;
  }

  function save() {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ language: language, transcript: transcript }));
    } catch (e) {
      // Private mode or a full quota: the chat still works, it just is not restored on reload.
    }
  }

  function restore() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && Array.isArray(saved.transcript) && saved.transcript.length) {
        setLanguage(saved.language);
        transcript = saved.transcript;
        for (const entry of transcript) addMessage(entry);
        return true;
      }
    } catch (e) {
      sessionStorage.removeItem(STORE_KEY);
    }
    return false;
  }

  function showAnswer(answer, focusButtons) {
    if (answer.language) setLanguage(answer.language);
    let firstButton = null;
    for (const message of answer.messages) {
      const entry = { who: "bot", text: message.text, buttons: message.buttons || [], lang: language };
      transcript.push(entry);
      const item = addMessage(entry);
      firstButton = firstButton || item.querySelector(".choices button");
    }
    save();
    if (focusButtons && firstButton) firstButton.focus();
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function send(text, shown) {
    if (busy || !text.trim()) return;
    busy = true;
    const fromButton = shown !== undefined;
    const hadFocusInChoices = fromButton && document.activeElement && document.activeElement.closest(".choices");
    removeChoices();
    // Answered questions keep no buttons, on screen or in the saved transcript.
    for (const earlier of transcript) earlier.buttons = [];
    if (hadFocusInChoices) input.focus();
    const entry = { who: "user", text: fromButton ? shown : text, lang: language };
    transcript.push(entry);
    addMessage(entry);
    status.className = "";
    status.textContent = t("sending");
    try {
      const answer = await post("/chat/turn", { message: text });
      status.textContent = "";
      showAnswer(answer, Boolean(hadFocusInChoices));
    } catch (e) {
      status.className = "error";
      status.textContent = t("failed");
      if (!fromButton) input.value = text;
    } finally {
      busy = false;
      save();
    }
  }

  async function start() {
    const preferred = (navigator.language || "").slice(0, 2).toLowerCase();
    try {
      const answer = await post("/chat/start", UI[preferred] ? { lang: preferred } : {});
      showAnswer(answer, false);
    } catch (e) {
      status.className = "error";
      status.textContent = t("failed");
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send(text);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  for (const button of document.querySelectorAll("button.lang")) {
    button.addEventListener("click", function () {
      send("/lang " + button.dataset.lang, button.textContent);
    });
  }

  setLanguage(language);
  if (!restore()) start();
})();
