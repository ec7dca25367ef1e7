// Stand-in for the AI call: the route only needs its shape.
async function generateConversationResponse(text, audio, language, history) {
  return { response: `(${language}) ${text}`, grammarSuggestion: null, translation: null, turns: history.length };
}

async function transcribe(buffer, language) {
  return { text: `[${language} audio, ${buffer.length} bytes]` };
}

module.exports = { generateConversationResponse, transcribe };
