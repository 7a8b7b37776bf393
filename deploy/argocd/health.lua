-- Argo CD health check for the modelops.dev kinds (ModelBuild, ModelRun, AssistantTool); one script for all.
-- It reads the kstatus conditions the operator writes (Ready, Reconciling, Stalled) and, in this order:
--   deletionTimestamp set                       -> Progressing (the operator is removing the remote object)
--   annotation modelops.dev/paused == "true"    -> Suspended   (no remote calls until the annotation goes)
--   no status yet                               -> Progressing
--   status.observedGeneration ~= generation     -> Progressing (the operator has not seen this spec yet)
--   Stalled True                                -> Degraded    (a person must act; wins over Ready)
--   Reconciling True                            -> Progressing
--   Ready True                                  -> Healthy
--   anything else                               -> Progressing
-- Argo CD runs it with `obj` set to the live object. deploy/argocd/argocd-cm-health.yaml is generated from this
-- file by tools/render_argocd_cm.py: edit here, then run that script.

local hs = {}

local function condition(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function message(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local metadata = obj.metadata or {}
local annotations = metadata.annotations or {}
local status = obj.status

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator is applying the deletion policy"
  return hs
end

if annotations["modelops.dev/paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "Paused by the modelops.dev/paused annotation"
  return hs
end

if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if metadata.generation ~= nil and status.observedGeneration ~= metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(metadata.generation)
  return hs
end

local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message(stalled, "Stalled")
  return hs
end

local reconciling = condition(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = message(reconciling, "Reconciling")
  return hs
end

local ready = condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = message(ready, status.message or "Waiting for the Ready condition")
return hs
