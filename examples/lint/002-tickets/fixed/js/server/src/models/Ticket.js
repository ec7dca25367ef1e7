const mongoose = require('mongoose');

const ticketSchema = new mongoose.Schema(
  {
    ticket_number: { type: String, required: true },
    subject: { type: String, required: true },
    description: String,
    customer_email: { type: String, required: true },
    conversation_id: String,
    status: { type: String, enum: ['open', 'in_progress', 'resolved', 'closed'], default: 'open' },
    priority: { type: String, default: 'medium' },
    resolution_notes: String,
  },
  { timestamps: { createdAt: 'created_date', updatedAt: 'updated_date' } },
);

// Unique among numbered tickets; a ticket imported without a number (null) is left out,
// which sparse would not do.
ticketSchema.index(
  { ticket_number: 1 },
  { unique: true, partialFilterExpression: { ticket_number: { $type: 'string' } } },
);

module.exports = mongoose.model('Ticket', ticketSchema);
