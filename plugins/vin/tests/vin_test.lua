-- Tests of the vin plugin: make -C plugins/vin && crm plugin test vin

local function vehicle(vin)
  return crm.create("vehicle", { vin = vin, make = "Test" })
end

function test_real_vins_are_accepted_and_their_model_year_decoded()
  local cases = {
    { "1HGCM82633A004352", 2003 },   -- Honda Accord
    { "1M8GDM9AXKP042788", 1989 },   -- check digit X
    { "JHMFA16586S014045", 2006 },   -- Honda Civic
    { "1C4RJFAG0FC625797", 2015 },   -- a letter at position 7: the 2010-2039 cycle
  }
  for _, case in ipairs(cases) do
    local v = vehicle(case[1])
    assert(v.model_year == case[2], case[1] .. ": model year " .. tostring(v.model_year))
  end
end

function test_vins_are_normalised()
  local v = vehicle("1hgcm826-33a0 04352")
  assert(v.vin == "1HGCM82633A004352", v.vin)
end

function test_a_wrong_check_digit_is_refused()
  local ok, err = pcall(vehicle, "1HGCM82643A004352")
  assert(not ok and err:find("check digit is '4' but the VIN calls for", 1, true), err)
end

function test_bad_characters_and_lengths_are_refused()
  local ok, err = pcall(vehicle, "1HGCM8263OA004352")
  assert(not ok and err:find("'O' at position 10 is not allowed", 1, true), err)
  ok, err = pcall(vehicle, "1HGCM82633A00435")
  assert(not ok and err:find("17 characters", 1, true), err)
end

function test_an_update_of_the_vin_is_checked_too()
  local v = vehicle("1HGCM82633A004352")
  local ok, err = pcall(crm.update, "vehicle", v.id, { vin = "1HGCM82643A004352" })
  assert(not ok and err:find("check digit", 1, true), err)
  v = crm.update("vehicle", v.id, { model = "Accord" })
  assert(v.model_year == 2003)
end
