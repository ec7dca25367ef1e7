const Ticket = require('./Ticket');
const Customer = require('./Customer');

module.exports = { Ticket, Customer };
