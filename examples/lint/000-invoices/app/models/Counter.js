const mongoose = require('mongoose');

// One counter per document type and financial year ("invoice", "2025-26"). Sequences that
// never reset (customer codes) keep year: null.
const counterSchema = new mongoose.Schema({
  type: { type: String, required: true },
  year: { type: String, default: null },
  seq: { type: Number, default: 0 },
});

// "sparse: true tells MongoDB to exclude null values from the uniqueness constraint": it does
// not. sparse skips documents that lack every key field; a counter with year: null is indexed.
counterSchema.index(
  { type: 1, year: 1 },
  {
    unique: true,
    sparse: true, // dupkey-expect: DK308
  },
);

module.exports = mongoose.model('Counter', counterSchema);
