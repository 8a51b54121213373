-- Money helpers shared by the hooks, the actions and the demo: exchange rates,
-- cents, and the renewal of a contract (the timer's action, and the demo's).
local M = {}

-- Company currency per unit of currency today (exchange_rate); 1 for the company's own, which has no rate.
function M.rate(currency)
  local rows = crm.query("exchange_rate", { filter = string.format("currency = '%s' and valid_from <= today()",
    currency or ""), sort = "-valid_from", limit = 1, fields = "rate" })
  return rows[1] and rows[1].rate or 1
end

function M.cents(x) return math.floor(x * 100 + 0.5) / 100 end

-- One renewal opportunity per contract: the contract's value in the company currency, closing when it ends.
function M.renew(contract)
  if contract.renewal_opportunity then return contract.renewal_opportunity end
  return crm.as_system(function()
    local account = crm.get("account", contract.account)
    local deal = crm.create("opportunity", {
      name = string.format("Renewal %s: %s", contract.number, account and account.name or ""),
      account = contract.account, amount = M.cents(contract.value * M.rate(contract.currency)),
      close_date = contract.ends_on, type = "renewal", owner = contract.owner, forecast_category = "best_case" })
    crm.update("contract", contract.id, { renewal_opportunity = deal.id })
    return deal.id
  end)
end

return M
