const express = require('express');
const multer = require('multer');
const Conversation = require('../models/Conversation');
const claudeService = require('../services/claudeService');

const router = express.Router();
const upload = multer({ storage: multer.memoryStorage() });

// Creates the conversation or appends to it in one atomic upsert: concurrent messages of a
// new session all land in the same conversation.
function appendMessages(sessionId, language, messages) {
  return Conversation.findOneAndUpdate(
    { sessionId },
    {
      $setOnInsert: { sessionId, language },
      $push: { messages: { $each: messages } },
    },
    { upsert: true, new: true },
  );
}

router.post('/text', async (req, res) => {
  const { text, sessionId, language = 'zh-CN' } = req.body;
  try {
    // Reading the history first is fine: nothing is created from what this read found.
    const existing = await Conversation.findOne({ sessionId }).lean();
    const history = existing ? existing.messages : [];
    const aiResponse = await claudeService.generateConversationResponse(text, null, language, history);
    await appendMessages(sessionId, language, [
      { role: 'user', text, timestamp: new Date() },
      {
        role: 'bot',
        text: aiResponse.response,
        timestamp: new Date(),
        grammarSuggestion: aiResponse.grammarSuggestion,
        translation: aiResponse.translation,
      },
    ]);
    res.json({ reply: aiResponse.response, sessionId });
  } catch (error) {
    console.error('Text message error:', error);
    res.status(500).json({ error: 'Failed to process message' });
  }
});

router.post('/voice', upload.single('audio'), async (req, res) => {
  const { sessionId, language = 'zh-CN' } = req.body;
  try {
    const { text } = await claudeService.transcribe(req.file.buffer, language);
    const existing = await Conversation.findOne({ sessionId }).lean();
    const history = existing ? existing.messages : [];
    const aiResponse = await claudeService.generateConversationResponse(text, req.file.buffer, language, history);
    await appendMessages(sessionId, language, [
      { role: 'user', text },
      { role: 'bot', text: aiResponse.response },
    ]);
    res.json({ transcript: text, reply: aiResponse.response, sessionId });
  } catch (error) {
    console.error('Voice message error:', error);
    res.status(500).json({ error: 'Failed to process audio' });
  }
});

module.exports = router;
