const mongoose = require('mongoose');

// Counter documents are keyed by _id ("invoice/2025-26"): the _id index is the only unique
// index they need, so no other index can trap them (the old id_1_reference_value_1 did).
const counters = () => mongoose.connection.collection('counters');

// The financial year of the document's own date, not of the clock at numbering time.
function financialYear(date) {
  const y = date.getUTCMonth() >= 3 ? date.getUTCFullYear() : date.getUTCFullYear() - 1;
  return `${y}-${String((y + 1) % 100).padStart(2, '0')}`;
}

// One atomic $inc per number: concurrent callers never get the same value.
async function nextNumber(prefix, type, date) {
  const fy = financialYear(date);
  const counter = await counters().findOneAndUpdate(
    { _id: `${type}/${fy}` },
    { $inc: { seq: 1 } },
    { upsert: true, returnDocument: 'after' },
  );
  return `${prefix}/${fy}/${String(counter.seq).padStart(6, '0')}`;
}

module.exports = { financialYear, nextNumber };
