const mongoose = require('mongoose');

const lineSchema = new mongoose.Schema(
  { description: String, quantity: Number, unitPrice: Number },
  { _id: false },
);

const invoiceSchema = new mongoose.Schema(
  {
    invoiceNumber: { type: String, required: true, unique: true },
    kind: { type: String, enum: ['invoice', 'bill'], default: 'invoice' },
    customerName: { type: String, required: true },
    lines: [lineSchema],
    total: { type: Number, required: true },
    issuedAt: { type: Date, default: Date.now },
  },
  { timestamps: true },
);

module.exports = mongoose.model('Invoice', invoiceSchema);
