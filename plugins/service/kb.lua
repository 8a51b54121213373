-- The knowledge base (objects/kb.yaml, kb_flow.yaml):
--  * publishing (the publish transition): revision + 1, published_at, and a kb_article_version
--    with the title, body and change note, which becomes the live one; archiving takes it down;
--  * versions are immutable (their text is `readonly` in kb.yaml; no role updates or deletes them):
--    the plugin alone moves `live` and the audience served;
--  * service.kb_helpful: one helpful vote per user and article (kb_vote), counted in `helpful`;
--  * GET /api/v1/plugins/service/cases/{id}/suggestions: the 5 live articles the caller may read
--    that best match the case's subject (kb_search.lua).
local search = require("kb_search")

local function live_versions(article_id)
  return crm.query("kb_article_version", { filter = string.format("article = %d and live = true", article_id),
    fields = "id,audience", limit = 100 })
end

-- The transitions' work, in their transaction, after the state moved (an after_transition hook, not
-- a workflow action: a plugin action is also callable over HTTP, and publishing must stay behind
-- the publish transition's role check). Only publish enters `published`, only archive `archived`.
crm.on("kb_article", "after_transition", function(article)
  if article.status ~= "published" and article.status ~= "archived" then return end
  crm.as_system(function()
    for _, v in ipairs(live_versions(article.id)) do crm.update("kb_article_version", v.id, { live = false }) end
    if article.status == "archived" then return end   -- nothing of it is served any more
    -- publish: the text as reviewed becomes version revision + 1, the one served from now on
    local revision = (article.revision or 0) + 1
    crm.create("kb_article_version", { article = article.id, revision = revision, title = article.title,
      body = article.body, note = article.change_note, live = true, audience = article.audience or "internal" })
    crm.update("kb_article", article.id, { revision = revision, published_at = crm.datetime(), change_note = crm.null })
  end)
end)

-- A published article's audience, changed by a manager, is the live version's at once.
crm.on("kb_article", "after_update", function(new)
  if new.status ~= "published" or not new.audience then return end
  crm.as_system(function()
    for _, v in ipairs(live_versions(new.id)) do
      if v.audience ~= new.audience then crm.update("kb_article_version", v.id, { audience = new.audience }) end
    end
  end)
end)

-- An article in review is the reviewer's: its author (who may update it there, to submit it) may
-- not change its text until it is sent back; a service manager (or an admin) may.
local REVIEWED = { "title", "body", "audience", "product", "change_note" }

crm.on("kb_article", "before_update", function(new, old, ctx)
  if old.status ~= "in_review" or not ctx.user or ctx.user <= 0 then return end
  local touched = false
  for _, name in ipairs(REVIEWED) do touched = touched or new[name] ~= nil end
  if not touched then return end
  local user = crm.as_system(crm.get, "user", ctx.user)
  if user and (user.role == "service_manager" or user.role == "admin") then return end
  error("the article is in review: it can be changed again once the reviewer sends it back")
end)

crm.action("kb_helpful", function(article, ctx)
  if not article then crm.error("invalid", "kb_helpful works on a knowledge article") end
  if article.status ~= "published" then crm.error("conflict", "only a published article takes votes") end
  if not ctx.user or ctx.user <= 0 then crm.error("denied", "sign in to vote") end
  return crm.as_system(function()
    local mine = string.format("article = %d and user = %d", article.id, ctx.user)
    local counted = crm.count("kb_vote", mine) == 0
    if counted then crm.create("kb_vote", { article = article.id, user = ctx.user }) end
    local votes = crm.count("kb_vote", string.format("article = %d", article.id))
    if votes ~= article.helpful then crm.update("kb_article", article.id, { helpful = votes }) end
    return { helpful = votes, counted = counted }
  end)
end)

crm.route("GET", "/service/cases/{id}/suggestions", function(req)
  local id = req.params.id
  local case = id:match("^%d+$") and #id <= 15 and crm.get("case", tonumber(id))
  if not case then crm.error("not_found", "no case with id " .. id:sub(1, 20)) end
  local articles, terms = search.suggest(case.subject)
  return { json = { case = case.id, subject = case.subject, terms = crm.json.array(terms), articles = articles } }
end)

