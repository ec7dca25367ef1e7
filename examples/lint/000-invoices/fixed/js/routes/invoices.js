const express = require('express');
const Invoice = require('../models/Invoice');
const { nextNumber } = require('../numbers');

const router = express.Router();

async function issue(kind, prefix, body) {
  const issuedAt = body.issuedAt ? new Date(body.issuedAt) : new Date();
  const total = body.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
  const invoiceNumber = await nextNumber(prefix, kind, issuedAt);
  return Invoice.create({ invoiceNumber, kind, customerName: body.customerName, lines: body.lines, total, issuedAt });
}

function route(kind, prefix) {
  return async (req, res, next) => {
    try {
      res.status(201).json(await issue(kind, prefix, req.body));
    } catch (err) {
      // A duplicate number means the counter is behind imported data: answer 409 and let
      // an operator resync it, never a bare 500.
      if (err.code === 11000) return res.status(409).json({ error: 'number already used', key: err.keyValue });
      next(err);
    }
  };
}

router.post('/invoices', route('invoice', 'INV'));
router.post('/bills', route('bill', 'BILL'));

module.exports = router;
