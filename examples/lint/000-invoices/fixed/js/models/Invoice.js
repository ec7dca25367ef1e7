const mongoose = require('mongoose');

const invoiceSchema = new mongoose.Schema(
  {
    invoiceNumber: { type: String, required: true, unique: true },
    kind: { type: String, enum: ['invoice', 'bill'], required: true },
    customerName: { type: String, required: true },
    lines: [{ description: String, quantity: Number, unitPrice: Number }],
    total: { type: Number, required: true },
    issuedAt: { type: Date, required: true },
  },
  { timestamps: true },
);

module.exports = mongoose.model('Invoice', invoiceSchema);
