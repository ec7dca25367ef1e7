const mongoose = require('mongoose');

const ticketSchema = new mongoose.Schema(
  {
    ticket_number: {
      type: String,
      unique: true,
      sparse: true, // dupkey-expect: DK308
      default: null,
    },
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

// Numbers the ticket from the count of tickets: two tickets saved together count the same
// total, and once a ticket is deleted the count is behind the numbers already in use.
ticketSchema.pre('save', async function assignTicketNumber(next) {
  if (!this.ticket_number) {
    const count = await mongoose.model('Ticket').countDocuments();
    this.ticket_number = `TKT-${String(count + 1).padStart(5, '0')}`; // dupkey-expect: DK303
  }
  next();
});

module.exports = mongoose.model('Ticket', ticketSchema);
