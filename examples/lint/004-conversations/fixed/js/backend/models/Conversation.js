const mongoose = require('mongoose');

const messageSchema = new mongoose.Schema(
  {
    role: { type: String, enum: ['user', 'bot'], required: true },
    text: { type: String, required: true },
    timestamp: { type: Date, default: Date.now },
    grammarSuggestion: String,
    translation: String,
  },
  { _id: false },
);

const conversationSchema = new mongoose.Schema(
  {
    sessionId: { type: String, required: true, unique: true },
    language: { type: String, default: 'zh-CN' },
    messages: [messageSchema],
  },
  { timestamps: true },
);

module.exports = mongoose.model('Conversation', conversationSchema);
