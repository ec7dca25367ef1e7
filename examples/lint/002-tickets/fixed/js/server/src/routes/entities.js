const express = require('express');
const models = require('../models');
const { nextTicketNumber } = require('../ticketNumbers');

const router = express.Router();

router.post('/entities/:entity', async (req, res) => {
  const modelName = req.params.entity.charAt(0).toUpperCase() + req.params.entity.slice(1);
  const Model = models[modelName];
  if (!Model) return res.status(404).json({ error: `unknown entity ${req.params.entity}` });
  try {
    const data = { ...req.body };
    if (modelName === 'Ticket') {
      // Never trust a number sent by the client.
      data.ticket_number = await nextTicketNumber();
    }
    const created = await Model.create(data);
    return res.status(201).json(created);
  } catch (error) {
    if (error.code === 11000) {
      const field = Object.keys(error.keyPattern || {})[0];
      return res.status(409).json({ error: `Duplicate entry for ${field}` });
    }
    return res.status(500).json({ error: error.message });
  }
});

module.exports = router;
