const express = require('express');
const multer = require('multer');
const Conversation = require('../models/Conversation');
const claudeService = require('../services/claudeService');

const router = express.Router();
const upload = multer({ storage: multer.memoryStorage() });

// Text input: check, then act. Two messages sent quickly on a new session both find no
// conversation, both build one, and both save it.
router.post('/text', async (req, res) => {
  const { text, sessionId, language = 'zh-CN' } = req.body;
  try {
    let conversation = await Conversation.findOne({ sessionId });
    if (!conversation) {
      conversation = new Conversation({
        sessionId,
        language,
        messages: [],
      });
    }
    const history = conversation.messages || [];
    const aiResponse = await claudeService.generateConversationResponse(text, null, language, history);
    conversation.messages.push({ role: 'user', text, timestamp: new Date() });
    conversation.messages.push({
      role: 'bot',
      text: aiResponse.response || aiResponse,
      timestamp: new Date(),
      grammarSuggestion: aiResponse.grammarSuggestion,
      translation: aiResponse.translation,
    });
    await conversation.save(); // dupkey-expect: DK301
    res.json({ reply: aiResponse.response, sessionId });
  } catch (error) {
    console.error('Text message error:', error);
    res.status(500).json({ error: 'Failed to process message' });
  }
});

// Voice input: the same race, written with create.
router.post('/voice', upload.single('audio'), async (req, res) => {
  const { sessionId, language = 'zh-CN' } = req.body;
  try {
    const { text } = await claudeService.transcribe(req.file.buffer, language);
    let conversation = await Conversation.findOne({ sessionId });
    if (!conversation) {
      conversation = await Conversation.create({ sessionId, language, messages: [] }); // dupkey-expect: DK301
    }
    const aiResponse = await claudeService.generateConversationResponse(text, req.file.buffer, language, conversation.messages);
    conversation.messages.push({ role: 'user', text }, { role: 'bot', text: aiResponse.response });
    await conversation.save();
    res.json({ transcript: text, reply: aiResponse.response, sessionId });
  } catch (error) {
    console.error('Voice message error:', error);
    res.status(500).json({ error: 'Failed to process audio' });
  }
});

module.exports = router;
