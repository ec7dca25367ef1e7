const express = require('express');
const Invoice = require('../models/Invoice');
const { generateNumber } = require('../utils/numberGenerator');

const router = express.Router();

// A number that collides (the counter fails, a retry hands out a number twice) surfaces as a
// 500 here: nothing turns E11000 into an answer.
router.post('/invoices', async (req, res) => {
  const { customerName, lines } = req.body;
  const total = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
  const invoiceNumber = await generateNumber('INV', 'invoice');
  const invoice = await Invoice.create({ invoiceNumber, kind: 'invoice', customerName, lines, total }); // dupkey-expect: DK315
  res.status(201).json(invoice);
});

router.post('/bills', async (req, res, next) => {
  try {
    const { customerName, lines } = req.body;
    const total = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
    const invoiceNumber = await generateNumber('BILL', 'bill');
    const bill = await Invoice.create({ invoiceNumber, kind: 'bill', customerName, lines, total }); // dupkey-expect: DK315
    res.status(201).json(bill);
  } catch (err) {
    next(err);
  }
});

module.exports = router;
