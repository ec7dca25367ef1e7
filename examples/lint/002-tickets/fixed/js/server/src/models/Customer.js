const mongoose = require('mongoose');

const customerSchema = new mongoose.Schema({
  email: { type: String, required: true, unique: true },
  name: String,
  plan: { type: String, default: 'free' },
});

module.exports = mongoose.model('Customer', customerSchema);
