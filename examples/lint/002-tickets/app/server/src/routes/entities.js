const express = require('express');
const models = require('../models');
const Ticket = require('../models/Ticket');

const router = express.Router();

// Generic create for every entity of the admin UI. For tickets it numbers the ticket itself,
// before the model's pre-save hook does the same: two places make one number.
router.post('/entities/:entity', async (req, res) => {
  const modelName = req.params.entity.charAt(0).toUpperCase() + req.params.entity.slice(1);
  const Model = models[modelName];
  if (!Model) return res.status(404).json({ error: `unknown entity ${req.params.entity}` });
  try {
    const data = { ...req.body };
    if (modelName === 'Ticket' && !data.ticket_number) {
      const count = await Ticket.countDocuments();
      const ticketNum = String(count + 1).padStart(5, '0');
      data.ticket_number = `TKT-${ticketNum}`; // dupkey-expect: DK303, DK304
    }
    const created = await Model.create(data);
    res.status(201).json(created);
  } catch (error) {
    console.error(`API Error [/entities/${req.params.entity}]:`, error);
    res.status(500).json({ error: error.message });
  }
});

module.exports = router;
