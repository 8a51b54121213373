-- Suggestions from a case's subject (kb.lua's route): the subject's search terms and the live
-- knowledge article versions that match them best, as the caller may read them. No registrations
-- here, so that tests may require it.
local M = {}

local SUGGESTIONS = 5
local MAX_TERMS = 8          -- full-text queries per suggestion
local PER_TERM = 20          -- hits read per term

-- English words too common to tell articles apart (a term is 3+ characters: shorter ones are skipped).
local STOP = {}
for w in ([[the and for with not are was were can cannot can't cant does doesn't don't has have had
  from this that there their they them our your you but all any when what how why who which will would
  should could into onto out get got after before again still after about its it's than then too very
  just only also please help issue problem error]]):gmatch("%S+") do STOP[w] = true end

-- The search terms of a subject: English (Latin, ...) words of 3+ letters but the stop words, and
-- in runs of Chinese (CJK) characters every window of 3 (the trigram index finds substrings of 3+
-- characters; Chinese has no spaces to split words at). At most MAX_TERMS, in order, each once.
function M.terms(subject)
  local terms, seen = {}, {}
  local function add(term)
    if #terms < MAX_TERMS and not seen[term] then
      seen[term] = true
      terms[#terms + 1] = term
    end
  end
  local word, cjk = {}, {}
  local function flush_word()
    if #word >= 3 then
      local w = table.concat(word):lower()
      if not STOP[w] then add(w) end
    end
    word = {}
  end
  local function flush_cjk()
    if #cjk >= 3 and #cjk <= 4 then
      add(table.concat(cjk))
    elseif #cjk > 4 then
      for i = 1, #cjk - 2 do add(cjk[i] .. cjk[i + 1] .. cjk[i + 2]) end
    end
    cjk = {}
  end
  if type(subject) ~= "string" or not utf8.len(subject) then return terms end
  for _, cp in utf8.codes(subject) do
    local ch = utf8.char(cp)
    if (cp >= 0x2E80 and cp <= 0x9FFF) or (cp >= 0xF900 and cp <= 0xFAFF) or (cp >= 0x20000 and cp <= 0x2FA1F) then
      if cp >= 0x3000 and cp <= 0x303F then   -- CJK punctuation and the ideographic space
        flush_word(); flush_cjk()
      else
        flush_word(); cjk[#cjk + 1] = ch
      end
    elseif ch:match("^[%w]$") or (cp >= 0xC0 and cp < 0x2E80 and cp ~= 0xD7 and cp ~= 0xF7) or ch == "'" then
      flush_cjk(); word[#word + 1] = ch
    else
      flush_word(); flush_cjk()
    end
  end
  flush_word(); flush_cjk()
  return terms
end

-- The best live articles for a subject, as the caller may read them. The kernel's search holds a
-- record to every term of its text (AND), so each term is its own query (ranked by bm25); an
-- article scores the sum of 1 / (10 + its rank) over the terms that found it: more terms found,
-- and found near the top, rank first. Ties go to the newer article.
function M.suggest(subject, limit)
  local terms = M.terms(subject)
  local scores, rows = {}, {}
  for _, term in ipairs(terms) do
    local hits = crm.query("kb_article_version", { search = term, filter = "live = true",
      fields = "id,article,revision,title,audience", limit = PER_TERM })
    for rank, hit in ipairs(hits) do
      scores[hit.article] = (scores[hit.article] or 0) + 1 / (10 + rank)
      rows[hit.article] = hit
    end
  end
  local list = {}
  for article, score in pairs(scores) do list[#list + 1] = { article = article, score = score } end
  table.sort(list, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a.article > b.article
  end)
  local out = crm.json.array()
  for i = 1, math.min(limit or SUGGESTIONS, #list) do
    local hit = rows[list[i].article]
    out[i] = { article = hit.article, version = hit.id, revision = hit.revision, title = hit.title,
               audience = hit.audience, score = math.floor(list[i].score * 10000 + 0.5) / 10000 }
  end
  return out, terms
end

return M
