const mongoose = require('mongoose');

// The one place ticket numbers come from: an atomic $inc on the counter document
// { _id: "ticket" }. Call it once per ticket, and nowhere else.
async function nextTicketNumber() {
  const counter = await mongoose.connection.collection('counters').findOneAndUpdate(
    { _id: 'ticket' },
    { $inc: { seq: 1 } },
    { upsert: true, returnDocument: 'after' },
  );
  return `TKT-${String(counter.seq).padStart(5, '0')}`;
}

module.exports = { nextTicketNumber };
