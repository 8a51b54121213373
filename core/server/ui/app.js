// The CRM web UI: built from GET /api/v1/meta alone; nothing here names a CRM object.
// Plain ES module, no framework, no build step. Every piece of data reaches the page through
// textContent or createElement (never innerHTML); the server's CSP forbids inline script.

const PAGE = 25;          // list rows per page
const COLUMN_PAGE = 15;   // kanban cards per column page
const RELATED = 5;        // rows per related list on a record page (360: 20)
// The workflow engine's own objects (core/workflow.c writes them; metadata/approval.yaml and
// notification.yaml): the UI adds Approve / Reject to an approval and an inbox on the dashboard.
const APPROVAL = 'approval';
const NOTIFICATION = 'notification';

const state = {
  meta: null,
  lang: localStorage.getItem('crm.lang') || 'en',
  csrf: localStorage.getItem('crm.csrf'),   // shared by every tab of this browser, like the cookie
  user: null,
  names: new Map(),       // "object:id" -> display name
  unshared: new Set(),    // "object:id" of refs the caller may not read (shown as text, not as a link to a 404)
  navOpen: false,
  flash: null,           // a message for the next render of one record page
  guards: new Set(),     // () => true while the page holds unsaved edits (the line grid): asked before leaving
};

// ---- chrome strings (the data's labels come from the metadata) ----------------------
const STRINGS = {
  en: {
    login: 'Log in', logout: 'Log out', user: 'Login', password: 'Password', loginFailed: 'Login failed',
    new: 'New', edit: 'Edit', save: 'Save', cancel: 'Cancel', delete: 'Delete', restore: 'Restore',
    list: 'List', board: 'Board', dashboard: 'Dashboard', search: 'Search', filter: 'Filter',
    addCond: 'Add condition', apply: 'Apply', clear: 'Clear', next: 'Next', prev: 'Previous',
    noRecords: 'No records', details: 'Details', longText: 'Notes', system: 'System', history: 'History',
    related: 'Related', viewAll: 'View all', recycle: 'Recycle bin', live: 'Live records', more: 'Load more',
    at: 'When', by: 'Who', action: 'Action', changes: 'Changes', deleted: 'Deleted', c360: '360° view',
    confirmDelete: 'Move this record to the recycle bin?', saved: 'Saved', moved: 'Moved', refused: 'Refused',
    moveTo: 'Move to', rows: 'rows', of: 'of about', all: 'All', total: 'Total', by_: 'by', perMonth: 'by month',
    fixErrors: 'Please correct the highlighted fields', requiredValue: 'A value is required here', noChart: 'No data', lang: '中文', transitions: 'Actions',
    conflict: '{who} changed this record at {when}, after you opened it.', reloadKeep: 'Load their changes (yours stay in the form)',
    someone: 'Someone else', nowValue: 'Now saved', invalidInput: 'Not a valid value', actions: 'Plugin actions',
    searchAll: 'Search everything', results: 'Results for', noResults: 'Nothing found', searchHint: 'Type at least two characters',
    home: 'Home', nothingHere: 'Nothing here', recent: 'Recently viewed',
    signUp: 'Sign up', signUpTitle: 'Create your account', fullName: 'Your name', email: 'E-mail', haveAccount: 'I have an account: log in',
    signUpSent: 'Check your mailbox: we sent a link to confirm your address. It works once.', signUpFailed: 'Sign-up failed',
    verifying: 'Confirming your address…', verifyFailed: 'This link does not work', signUpAgain: 'Sign up again',
    passwordHint: 'At least 8 characters',
    views: 'Saved views', allRecords: 'All records', saveView: 'Save view', viewName: 'View name', shareRole: 'Share with my role',
    auditCreate: 'Created', auditUpdate: 'Updated', auditRestore: 'Restored',
    stagePath: 'Stages', dashboards: 'Dashboards', allModules: 'All modules', exportCsv: 'Export CSV', selected: 'selected', changeOwner: 'Change owner to…',
    deleteSelected: 'Delete selected', selectRow: 'Select', confirmDelete: 'Delete the selected records?',
    updateField: 'Update a field…', bulkActions: 'Selected rows', timeline: 'Timeline', change: 'Change',
    sharedView: 'shared', sharedWith: 'shared with', myViews: 'My views', sharedWithMe: 'Shared with my role', deleteView: 'Delete view',
    confirmDeleteView: 'Delete this saved view?', sharedReadOnly: 'Shared by {who} with {role}: you may apply it, not change it',
    onlyMe: 'Only me', shareWith: 'Share with role',
    latitude: 'Latitude', longitude: 'Longitude', useLocation: 'Use my location', openMap: 'Open in OpenStreetMap',
    latitudeRange: 'Latitude must be between -90 and 90', longitudeRange: 'Longitude must be between -180 and 180',
    bothCoordinates: 'Enter both latitude and longitude, or neither', noLocation: 'Your location is not available',
    composer: 'Log', add: 'Add', columns: 'Columns', resetColumns: 'Default columns',
    menu: 'Menu', value: 'Value', field: 'Field', operator: 'Operator', expression: 'Expression',
    loading: 'Loading…', notFound: 'Not found', welcome: 'Choose an object on the left.',
    pending: 'Waiting for approval', approve: 'Approve', reject: 'Reject', comment: 'Comment',
    approved: 'Approved', rejected: 'Rejected', myApprovals: 'Waiting for my approval', notifications: 'Notifications',
    nothing: 'Nothing new', target: 'Record', markRead: 'Mark read',
    addLine: 'Add line', saveLines: 'Save lines', discardLines: 'Discard changes', removeLine: 'Remove line',
    undoRemove: 'Keep line', moveUp: 'Move up', moveDown: 'Move down', lineN: 'Line {n}', lineNo: 'No.',
    lineActions: 'Line actions', lineNew: 'new', lineChanged: 'changed', lineRemoved: 'to be removed',
    noLines: 'No lines yet', unsaved: 'Unsaved changes', noChanges: 'No changes to save', linesSaved: 'Lines saved',
    notSaved: 'Nothing was saved', movedTo: 'Line moved to position {n}', moveHint: 'Alt+↑ and Alt+↓ move the line you are in.',
    unsavedLeave: 'Your changes to the lines are not saved. Leave and lose them?',
    lineConflict: '{who} changed line {n} at {when}, after you opened it.', reloadKeepLines: 'Load their changes (yours stay in the grid)',
    reportsTitle: 'Reports', ofPrevious: 'of the stage before',
    kpis: 'Key figures', kpiScope: 'Whose figures', scopeMe: 'Me', scopeTeam: 'My team', scopeAll: 'Everyone', kpiDay: 'As of',
    operating: 'Operating efficiency', business_value: 'Business value', targetOf: 'Target', attainment: 'of target',
    noTarget: 'No target', vsPrevious: 'vs', noKpis: 'No key figures', quarterOf: 'Q{q} {y}', yearOf: '{y}', monthOf: '{y}-{m}',
    better: 'better', worse: 'worse', unchanged: 'unchanged',
    myDashboard: 'My dashboard', kpiFor: 'Figures for', hoursUnit: '{n} h', daysUnit: '{n} d',
    colon: ': ',
    attachments: 'Attachments', attachFile: 'Attach a file', dropFiles: 'or drop files here', fileName: 'File',
    fileSize: 'Size', fileType: 'Type', download: 'Download', noFiles: 'No files attached',
    confirmDeleteFile: 'Delete this file?', uploading: 'Uploading…', uploaded: 'File attached',
    console: 'Console', myQueue: 'My queue', queueEmpty: 'Nothing in your queue', suggestions: 'Suggestions',
    noSuggestions: 'No suggestions', link: 'Link', linkedNow: 'Linked', openRecord: 'Open record', chooseRecord: 'Choose a record in the queue',
    clockLeft: '{d} left', clockOverdue: 'overdue {d}', clockPaused: 'paused', clockMet: 'met', clockViolated: 'violated',
    clockNone: 'no due date', unitD: 'd', unitH: 'h', unitM: 'm', clocks: 'Clocks',
  },
  zh: {
    login: '登录', logout: '退出', user: '登录名', password: '密码', loginFailed: '登录失败',
    new: '新建', edit: '编辑', save: '保存', cancel: '取消', delete: '删除', restore: '恢复',
    list: '列表', board: '看板', dashboard: '仪表盘', search: '搜索', filter: '筛选',
    addCond: '添加条件', apply: '应用', clear: '清除', next: '下一页', prev: '上一页',
    noRecords: '没有记录', details: '详细信息', longText: '备注', system: '系统信息', history: '历史',
    related: '相关', viewAll: '查看全部', recycle: '回收站', live: '有效记录', more: '加载更多',
    at: '时间', by: '操作人', action: '操作', changes: '变更', deleted: '已删除', c360: '360° 视图',
    confirmDelete: '将此记录移入回收站？', saved: '已保存', moved: '已移动', refused: '被拒绝',
    moveTo: '移动到', rows: '条', of: '约共', all: '全部', total: '合计', by_: '按', perMonth: '按月',
    fixErrors: '请更正标出的字段', requiredValue: '此处必须填写', noChart: '无数据', lang: 'English', transitions: '操作',
    conflict: '{who} 在 {when} 修改了此记录（在您打开之后）。', reloadKeep: '载入对方的修改（您的输入保留在表单中）',
    someone: '其他人', nowValue: '当前已保存', invalidInput: '不是有效的值', actions: '插件操作',
    searchAll: '全局搜索', results: '搜索结果：', noResults: '没有找到', searchHint: '请至少输入两个字符',
    home: '首页', nothingHere: '暂无', recent: '最近查看',
    signUp: '注册', signUpTitle: '创建账户', fullName: '您的姓名', email: '电子邮箱', haveAccount: '已有账户：登录',
    signUpSent: '请查收邮件：我们已发送确认邮箱的链接，链接只能使用一次。', signUpFailed: '注册失败',
    verifying: '正在确认您的邮箱…', verifyFailed: '此链接无效', signUpAgain: '重新注册',
    passwordHint: '至少 8 个字符',
    views: '已保存视图', allRecords: '全部记录', saveView: '保存视图', viewName: '视图名称', shareRole: '共享给我的角色',
    auditCreate: '创建', auditUpdate: '修改', auditRestore: '已恢复',
    stagePath: '阶段', dashboards: '仪表盘', allModules: '全部模块', exportCsv: '导出 CSV', selected: '已选', changeOwner: '更改负责人为…',
    deleteSelected: '删除所选', selectRow: '选择', confirmDelete: '删除所选记录？',
    updateField: '批量修改字段…', bulkActions: '所选行', timeline: '时间线', change: '变更',
    sharedView: '共享', sharedWith: '共享给', myViews: '我的视图', sharedWithMe: '共享给我的角色', deleteView: '删除视图',
    confirmDeleteView: '删除此已保存视图？', sharedReadOnly: '由 {who} 共享给 {role}：可以应用，不能修改',
    onlyMe: '仅自己', shareWith: '共享给角色',
    latitude: '纬度', longitude: '经度', useLocation: '使用我的位置', openMap: '在 OpenStreetMap 中打开',
    latitudeRange: '纬度必须在 -90 到 90 之间', longitudeRange: '经度必须在 -180 到 180 之间',
    bothCoordinates: '请同时填写纬度和经度，或都不填', noLocation: '无法获取您的位置',
    composer: '记录', add: '添加', columns: '列', resetColumns: '默认列',
    menu: '菜单', value: '值', field: '字段', operator: '运算符', expression: '表达式',
    loading: '加载中…', notFound: '未找到', welcome: '请从左侧选择对象。',
    pending: '等待审批', approve: '批准', reject: '驳回', comment: '审批意见',
    approved: '已批准', rejected: '已驳回', myApprovals: '待我审批', notifications: '通知',
    nothing: '没有新消息', target: '记录', markRead: '标为已读',
    addLine: '添加明细行', saveLines: '保存明细行', discardLines: '放弃修改', removeLine: '删除此行',
    undoRemove: '保留此行', moveUp: '上移', moveDown: '下移', lineN: '第 {n} 行', lineNo: '序号',
    lineActions: '行操作', lineNew: '新增', lineChanged: '已修改', lineRemoved: '待删除',
    noLines: '暂无明细行', unsaved: '有未保存的修改', noChanges: '没有需要保存的修改', linesSaved: '明细行已保存',
    notSaved: '未保存任何修改', movedTo: '已移到第 {n} 行', moveHint: 'Alt+↑ 和 Alt+↓ 可移动当前所在的行。',
    unsavedLeave: '明细行的修改尚未保存。确定离开并放弃这些修改吗？',
    lineConflict: '{who} 在 {when} 修改了第 {n} 行（在您打开之后）。', reloadKeepLines: '载入对方的修改（您的输入保留在表格中）',
    reportsTitle: '报表', ofPrevious: '占上一阶段',
    kpis: '关键指标', kpiScope: '指标范围', scopeMe: '我', scopeTeam: '我的团队', scopeAll: '所有人', kpiDay: '截至',
    operating: '运营效率', business_value: '业务价值', targetOf: '目标', attainment: '目标达成',
    noTarget: '无目标', vsPrevious: '对比', noKpis: '暂无关键指标', quarterOf: '{y}年第{q}季度', yearOf: '{y}年', monthOf: '{y}年{m}月',
    better: '变好', worse: '变差', unchanged: '持平',
    myDashboard: '我的仪表板', kpiFor: '统计范围', hoursUnit: '{n} 小时', daysUnit: '{n} 天',
    colon: '：',
    attachments: '附件', attachFile: '上传文件', dropFiles: '或将文件拖放到此处', fileName: '文件',
    fileSize: '大小', fileType: '类型', download: '下载', noFiles: '暂无附件',
    confirmDeleteFile: '确定删除此文件吗？', uploading: '正在上传…', uploaded: '文件已上传',
    console: '工作台', myQueue: '我的队列', queueEmpty: '队列中没有记录', suggestions: '推荐',
    noSuggestions: '暂无推荐', link: '关联', linkedNow: '已关联', openRecord: '打开记录', chooseRecord: '请在队列中选择一条记录',
    clockLeft: '剩余 {d}', clockOverdue: '已逾期 {d}', clockPaused: '已暂停', clockMet: '已达成', clockViolated: '已违约',
    clockNone: '无截止时间', unitD: '天', unitH: '小时', unitM: '分钟', clocks: '计时',
  },
};
const t = (key) => (STRINGS[state.lang] || STRINGS.en)[key] || STRINGS.en[key] || key;

// ---- DOM helpers: text only, never HTML ---------------------------------------------
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, kids);
  return el;
}
const SVGNS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, String(v));
  append(el, kids);
  return el;
}
function applyProps(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected' || k === 'multiple') el[k] = v;
    else if (/^on/i.test(k)) throw new Error('event attributes are not allowed');
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}
function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
}
const clear = (el) => { while (el.firstChild) el.firstChild.remove(); return el; };
const $ = (sel, root = document) => root.querySelector(sel);

function toast(message, kind = 'info') {
  const box = $('#toast');
  const item = h('div', { class: `toast ${kind}`, text: message });
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

// ---- API --------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(problem) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}
function problemText(p) {
  if (!p) return '';
  if (Array.isArray(p.errors) && p.errors.length) return p.errors.map((e) => e.message).join('; ');
  return p.detail || p.title || '';
}
async function api(method, path, { body, query, headers } = {}) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...(headers || {}) } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  // read at each write: a login in another tab replaces the session (and its token) for every tab
  state.csrf = localStorage.getItem('crm.csrf') || state.csrf;
  if (method !== 'GET' && state.csrf) opts.headers['X-CSRF-Token'] = state.csrf;
  let url = `/api/v1${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v != null && v !== '') q.set(k, v);
    const text = q.toString();
    if (text) url += `?${text}`;
  }
  const res = await fetch(url, opts);
  let data = null;
  if (res.status !== 204 && /json/.test(res.headers.get('content-type') || '')) data = await res.json();
  if (!res.ok) {
    if (res.status === 401 && path !== '/session') {
      state.meta = null;
      go('#/login');
    }
    throw new ApiError(res.status, data);
  }
  return { data, etag: res.headers.get('etag') };
}

// ---- metadata helpers -----------------------------------------------------------------
const objects = () => (state.meta ? state.meta.objects : []);
const objectOf = (name) => objects().find((o) => o.name === name);
const fieldOf = (o, name) => o && o.fields.find((f) => f.name === name);
function label(l, fallback) {
  if (l && typeof l === 'object') return l[state.lang] || l.en || fallback;
  return fallback;
}
function prettify(name) {
  const text = name.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
const fieldLabel = (f) => {
  const l = label(f.label, f.name);
  return l === f.name ? prettify(f.name) : l;
};
const objectLabel = (o) => label(o.label, prettify(o.name));
// a module's heading: the label one of its objects gives it (module: { name, label }), else its name
const moduleOf = (o) => o.module || 'other';
function moduleLabel(m) {
  const labelled = objects().find((o) => moduleOf(o) === m && o.module_label);
  return labelled ? label(labelled.module_label, prettify(m)) : prettify(m);
}
// navigation and list titles read the plural (label_plural), else the label
const objectPlural = (o) => label(o.label_plural, objectLabel(o));
// a transition as metadata names it: its label and its guard's message, in the current language
const transitionOf = (o, name) => (o.workflows || []).flatMap((w) => w.transitions || []).find((x) => x.name === name);
const transitionLabel = (o, name) => { const tr = transitionOf(o, name); return label(tr && tr.label, prettify(name)); };
// a refused transition: the guard's message in this language when the server says the guard failed
function transitionError(o, name, e) {
  const guard = e.problem && Array.isArray(e.problem.errors) && e.problem.errors.some((x) => x.code === 'guard');
  const tr = transitionOf(o, name);
  return guard && tr && tr.message ? label(tr.message, e.message) : e.message;
}
const enumLabel = (f, v) => {
  const item = (f.values || []).find((x) => x.value === v);
  return item ? label(item.label, v) : String(v);
};
const computed = (f) => ['formula', 'rollup', 'autonumber'].includes(f.type);
const editable = (f) => !f.system && !f.readonly && !computed(f);
const isRef = (f) => (f.type === 'ref' || f.type === 'user') && f.to;
// How a value reads: a formula by what it returns; a rollup by its measure (count: an integer) and
// the field it measures (a sum of money is money, the latest of dates a date)
function rollupType(f) {
  const r = f.rollup || {};
  if ((r.measure || f.measure || 'count') === 'count') return 'int';
  const child = r.of ? objectOf(r.of.split('.')[0]) : null;
  const measured = child && r.field ? fieldOf(child, r.field) : null;
  return measured ? valueType(measured) : 'decimal';
}
const valueType = (f) => (f.type === 'formula' ? f.returns || 'text' : f.type === 'rollup' ? rollupType(f) : f.type);
const numeric = (type) => ['int', 'decimal', 'money', 'percent', 'float', 'number'].includes(type);

function titleField(o) {
  const first = (o.views && o.views.list || [])[0];
  const f = fieldOf(o, first);
  if (f && ['text', 'formula', 'autonumber', 'email'].includes(f.type)) return f.name;
  const text = o.fields.find((x) => !x.system && x.type === 'text');
  return text ? text.name : 'id';
}
function listColumns(o) {
  const cols = ((o.views && o.views.list) || []).filter((n) => fieldOf(o, n));
  if (cols.length) return cols;
  return o.fields.filter((f) => !f.system).slice(0, 6).map((f) => f.name);
}
// The list's columns as this person chose them (the column chooser, kept in this browser), else the view's.
const COLUMNS = (o) => `crm.columns.${o.name}`;
function chosenColumns(o) {
  const saved = JSON.parse(localStorage.getItem(COLUMNS(o)) || 'null');
  const cols = Array.isArray(saved) ? saved.filter((n) => fieldOf(o, n)) : [];
  return cols.length ? cols : listColumns(o);
}
const hasSearch = (o) => o.fields.some((f) => f.search);
const kanbanOf = (o) => o && o.views && o.views.kanban && fieldOf(o, o.views.kanban.group_by) ? o.views.kanban : null;
const recordTitle = (o, r) => {
  const v = r[titleField(o)];
  return v == null || v === '' ? `#${r.id}` : String(v);
};
// A record page's heading: its title, or for an object with no text to name it by (a forecast, a
// quote line) its first list columns as they read ("Tom Becker · Quarter · 2026-04-01")
function recordHeading(o, r) {
  if (titleField(o) !== 'id') return recordTitle(o, r);
  const parts = listColumns(o).slice(0, 3).map((n) => formatValue(fieldOf(o, n), r[n], r)).filter(Boolean);
  return parts.length ? parts.join(' · ') : recordTitle(o, r);
}

// ---- value formatting --------------------------------------------------------------------
const locale = () => (state.lang === 'zh' ? 'zh-CN' : 'en-US');
// Money in English uses world English (en-001): the same digits as en-US, but a dollar or a yen
// that says whose (US$, CN¥, JP¥) where en-US prints a bare $ or ¥ beside the euros
const moneyLocale = () => (state.lang === 'zh' ? 'zh-CN' : 'en-001');
const appCurrency = () => (state.meta && state.meta.app && state.meta.app.currency) || null;
const currencyCode = (code) => (typeof code === 'string' && /^[A-Z]{3}$/.test(code) ? code : null);
// The ISO 4217 code of an amount of money field f in record (GET /meta gives a field's `currency`
// as a fixed code, or { field } naming the record's own field that holds one); else the company's
// (app.currency). Report measures are converted into the company currency: they pass no record.
function currencyOf(f, record) {
  const spec = f && f.currency;
  if (typeof spec === 'string') return currencyCode(spec) || appCurrency();
  if (spec && spec.field && record) return currencyCode(record[spec.field]) || appCurrency();
  return appCurrency();
}
// f as its amounts read beside a parent record: a line's or a child's money with no currency of its
// own is in its parent's (a quote's lines, an order's payments add up into the parent's totals)
function inCurrencyOf(f, parentObject, parent) {
  if (!parent || f.currency || valueType(f) !== 'money') return f;
  const held = parentObject.fields.find((x) => x.currency && valueType(x) === 'money');
  return held ? { ...f, currency: currencyOf(held, parent) } : f;
}
function formatMoney(v, currency, compact) {
  const options = currency ? { style: 'currency', currency } : { minimumFractionDigits: 2, maximumFractionDigits: 2 };
  if (compact) Object.assign(options, { notation: 'compact', minimumFractionDigits: 0, maximumFractionDigits: 1 });
  try { return new Intl.NumberFormat(moneyLocale(), options).format(v); } catch (e) { return new Intl.NumberFormat(locale(), { minimumFractionDigits: 2 }).format(v); }
}
function formatNumber(v, type, currency) {
  if (typeof v !== 'number') return String(v);
  if (type === 'money') return formatMoney(v, currency);
  if (type === 'percent') return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(v)}%`;
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 6 }).format(v);
}
// A report measure (GET /reports, a kanban column's sum, a chart's bar): money there is converted
// into the company currency. f: the measured field (null for a count); compact: 1.2M, for charts.
function formatMeasure(f, v, compact) {
  if (typeof v !== 'number') return v == null ? '' : String(v);
  const type = f ? valueType(f) : 'int';
  if (type === 'money') return formatMoney(v, appCurrency(), compact);
  // a measure is a total or an average: two decimals say enough (an average of 91.304348 reads as 91.3)
  const number = compact ? new Intl.NumberFormat(locale(), { notation: 'compact', maximumFractionDigits: 1 }).format(v)
    : new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(v);
  return type === 'percent' ? `${number}%` : number;
}
// the fields holding the currency of the money among names (to ask for them beside it)
const currencyFields = (o, names) => names.map((n) => fieldOf(o, n))
  .filter((f) => f && f.currency && f.currency.field && fieldOf(o, f.currency.field)).map((f) => f.currency.field);
// record: the record v belongs to (money reads its currency field there)
function formatValue(f, v, record) {
  if (v == null || v === '') return '';
  if (f.name === 'id') return String(v);   // an id is a name, not a quantity: no "1,003"
  // an int named year or *_year (model_year, a sample limit's year) is a calendar year: no "2,025"
  if (f.type === 'int' && /(^|_)year$/.test(f.name)) return String(v);
  const type = valueType(f);
  if (type === 'geo' && typeof v === 'object') return `${coordinate(v.lat)}, ${coordinate(v.lng)}`;
  if (numeric(type)) return formatNumber(v, type, type === 'money' ? currencyOf(f, record) : null);
  if (type === 'enum') return enumLabel(f, v);
  if (type === 'multienum') return (Array.isArray(v) ? v : [v]).map((x) => enumLabel(f, x)).join(', ');
  if (type === 'bool') return v ? '✓' : '✗';
  if (type === 'date') return String(v);
  if (type === 'datetime') {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString(locale(), { dateStyle: 'medium', timeStyle: 'short' });
  }
  if (isRef(f)) return state.names.get(`${f.to}:${v}`) || `#${v}`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
// A list cell's class: amounts right-aligned; short values (amounts, dates, states, numbers) on one
// line, so that a narrow column wraps the names beside them and not "2026-|12-07" or "已确|认"
function cellClass(f) {
  const type = valueType(f);
  if (numeric(type)) return 'num nowrap';
  return ['date', 'datetime', 'enum', 'autonumber'].includes(type) ? 'nowrap' : null;
}
// a latitude or longitude as people write it: 48.137, not 48.13700 (at most 5 decimals: about a metre)
const coordinate = (x) => String(Number(Number(x).toFixed(5)));
// A point on OpenStreetMap (a link out: the page itself loads nothing from elsewhere)
const mapLink = (v) => `https://www.openstreetmap.org/?mlat=${coordinate(v.lat)}&mlon=${coordinate(v.lng)}#map=15/${coordinate(v.lat)}/${coordinate(v.lng)}`;
// A cell or value node: refs link to the target record, urls and emails to themselves, a point to the map.
function valueNode(f, v, record) {
  if (v == null || v === '') return h('span', { class: 'empty', text: '—' });
  if (f.type === 'geo' && typeof v === 'object' && Number.isFinite(Number(v.lat)) && Number.isFinite(Number(v.lng)))
    return h('a', { href: mapLink(v), rel: 'noopener noreferrer', target: '_blank', class: 'geo', title: t('openMap'), text: formatValue(f, v, record) });
  if (isRef(f) && objectOf(f.to) && !state.unshared.has(`${f.to}:${v}`)) return h('a', { href: `#/o/${f.to}/${v}`, text: formatValue(f, v) });
  if (f.type === 'url' && /^https?:\/\//i.test(String(v))) return h('a', { href: String(v), rel: 'noopener noreferrer', target: '_blank', text: String(v) });
  if (f.type === 'email') return h('a', { href: `mailto:${v}`, text: String(v) });
  const text = formatValue(f, v, record);
  const el = h('span', { text });
  if (numeric(valueType(f))) el.className = 'num';
  return el;
}

// Fetches the display names of every ref in records (one request per target object).
async function resolveRefs(o, records, names) {
  const wanted = new Map();
  for (const n of names) {
    const f = fieldOf(o, n);
    if (!f || !isRef(f) || !objectOf(f.to)) continue;
    for (const r of records) {
      const v = r[n];
      if (v == null || state.names.has(`${f.to}:${v}`)) continue;
      if (!wanted.has(f.to)) wanted.set(f.to, new Set());
      wanted.get(f.to).add(v);
    }
  }
  await Promise.all([...wanted].map(async ([target, ids]) => {
    const to = objectOf(target);
    const title = titleField(to);
    const list = [...ids].filter((x) => Number.isInteger(x)).slice(0, 200);
    if (!list.length) return;
    try {
      const { data } = await api('GET', `/objects/${target}`, {
        query: { filter: `id in (${list.join(',')})`, fields: `id,${title}`, limit: list.length },
      });
      for (const r of data.records) state.names.set(`${target}:${r.id}`, recordTitle(to, r));
      // asked for and not answered: a record the caller's rules do not reach (a partner's deal on a direct account)
      for (const x of list) if (!state.names.has(`${target}:${x}`)) state.unshared.add(`${target}:${x}`);
    } catch (e) { /* the caller may not read the target: ids stay as #id */ }
  }));
}

// ---- routing --------------------------------------------------------------------------------
function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}
function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const [path, query] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || '') };
}
function hashWith(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') q.set(k, v);
  const text = q.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

// Unsaved edits (the line grid's) are asked about before the page is replaced: a link, Back, the
// language switch, a re-render after an action, logging out, closing the tab.
const unsavedEdits = () => [...state.guards].some((dirty) => dirty());
const mayLeave = () => !unsavedEdits() || window.confirm(t('unsavedLeave'));
window.addEventListener('beforeunload', (e) => { if (unsavedEdits()) { e.preventDefault(); e.returnValue = ''; } });

let renderSeq = 0;
let shownHash = location.hash;
async function render() {
  if (state.meta && !mayLeave()) {
    // stay, edits and all: put the address back (replaceState fires no hashchange)
    if (location.hash !== shownHash) history.replaceState(null, '', shownHash || '#/home');
    return;
  }
  state.guards.clear();
  shownHash = location.hash;
  const seq = ++renderSeq;
  const { parts, params } = parseHash();
  const main = $('#main');
  // sign-up and its link: for people without an account (app.yaml signup:)
  if (parts[0] === 'signup' || parts[0] === 'verify') {
    renderChrome();
    return parts[0] === 'signup' ? viewSignup(main) : viewVerify(main, params.get('token'));
  }
  if (parts[0] === 'login' || !state.meta) {
    if (parts[0] !== 'login' && await restoreSession()) return render();
    if (seq !== renderSeq) return;
    renderChrome();
    return viewLogin(main, parts[0] === 'login' ? params.get('next') : location.hash);
  }
  renderChrome();
  clear(main);
  main.append(h('p', { class: 'loading', text: t('loading') }));
  const view = h('div', { class: 'view' });
  try {
    const [kind, oname, id, sub] = parts;
    if (!kind || kind === 'home') await viewHome(view);
    else if (kind === 'dash') await viewDashboard(view, oname, params);
    else if (kind === 'o' && objectOf(oname) && !id) await viewList(view, objectOf(oname), params);
    else if (kind === 'o' && objectOf(oname) && id === 'new') await viewForm(view, objectOf(oname), null, params);
    else if (kind === 'o' && objectOf(oname) && sub === 'edit') await viewForm(view, objectOf(oname), id, params);
    else if (kind === 'o' && objectOf(oname)) await viewRecord(view, objectOf(oname), id, false);
    else if (kind === '360' && objectOf(oname)) await viewRecord(view, objectOf(oname), id, true);
    else if (kind === 'k' && kanbanOf(objectOf(oname))) await viewKanban(view, objectOf(oname));
    else if (kind === 'console' && consoleOf(objectOf(oname))) await viewConsole(view, objectOf(oname), id);
    else if (kind === 'search') await viewSearch(view, params.get('q') || '');
    else view.append(h('h1', { text: t('notFound') }));
  } catch (e) {
    if (e.status === 401) return;
    view.append(h('p', { class: 'error', role: 'alert', text: e.message }));
  }
  if (seq !== renderSeq) return;
  clear(main).append(view);
  document.title = `${(view.querySelector('h1') || {}).textContent || 'CRM'} · CRM`;
}

async function restoreSession() {
  // the cookie is shared by every tab: a new tab (or a reload) picks the session up from it
  try {
    const [{ data: who }, { data: meta }] = await Promise.all([api('GET', '/session'), api('GET', '/meta')]);
    state.user = who.user;
    state.meta = meta;
    if (who.csrf) {
      state.csrf = who.csrf;
      localStorage.setItem('crm.csrf', who.csrf);
    }
    return true;
  } catch (e) {
    return false;
  }
}

function renderChrome() {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  const top = clear($('#top'));
  const nav = clear($('#nav'));
  const menu = h('button', {
    class: 'menu', type: 'button', 'aria-controls': 'nav', 'aria-expanded': String(state.navOpen), text: `☰ ${t('menu')}`,
    on: { click: () => { state.navOpen = !state.navOpen; renderChrome(); } },
  });
  // append() (not Element.append) everywhere: a null kid is skipped, never printed as "null"
  append(top, [
    state.meta ? menu : null,
    h('a', { class: 'brand', href: '#/home', text: state.meta ? prettify(state.meta.app.name).toUpperCase() : 'CRM' }),
    // global search: every object the caller reads that has `search: true` fields
    state.meta ? h('form', { class: 'global-search', role: 'search', on: { submit: (e) => {
      e.preventDefault();
      go(hashWith('/search', { q: e.target.elements.q.value.trim() }));
    } } }, h('input', { type: 'search', name: 'q', 'data-test': 'global-search', 'aria-label': t('searchAll'),
      placeholder: t('searchAll'), value: parseHash().parts[0] === 'search' ? parseHash().params.get('q') || '' : '' })) : null,
    h('span', { class: 'spacer' }),
    h('button', {
      type: 'button', class: 'lang', 'data-test': 'lang', text: t('lang'),
      on: { click: () => { state.lang = state.lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('crm.lang', state.lang); render(); } },
    }),
    state.user ? h('span', { class: 'who', text: state.user.name || state.user.login }) : null,
    state.user ? h('button', { type: 'button', class: 'logout', text: t('logout'), on: { click: logout } }) : null,
  ]);
  nav.classList.toggle('open', state.navOpen);
  if (!state.meta) return;
  const current = parseHash().parts;
  const link = (href, text, active) => h('a', { href, text, 'aria-current': active ? 'page' : null });
  // a role with no dashboard tiles, reports or charts it may read has no Dashboards link (caller.dashboard false)
  const dashboard = !state.meta.caller || state.meta.caller.dashboard !== false;
  nav.append(h('ul', null, h('li', null, link('#/home', t('home'), !current[0] || current[0] === 'home')),
    dashboard ? h('li', null, link('#/dash', t('dashboard'), current[0] === 'dash')) : null));
  const modules = new Map();
  // a role's navigation (metadata `navigation:`) lists what the person works with, in its order
  const wanted = state.meta.caller && state.meta.caller.navigation;
  const listed = (o) => !wanted || wanted.includes(o.name) || wanted.includes(o.module);
  const rank = (o) => (wanted ? Math.min(...[o.name, o.module].map((x) => { const i = wanted.indexOf(x); return i < 0 ? 1e9 : i; })) : 0);
  for (const o of objects().filter(listed).sort((a, b) => rank(a) - rank(b))) {
    const m = moduleOf(o);
    if (!modules.has(m)) modules.set(m, []);
    modules.get(m).push(o);
  }
  for (const [m, list] of modules) {
    nav.append(h('h2', { text: moduleLabel(m) }), h('ul', null, list.map((o) => h('li', null,
      link(`#/o/${o.name}`, objectPlural(o), current[1] === o.name && current[0] !== 'k' && current[0] !== 'console'),
      kanbanOf(o) ? link(`#/k/${o.name}`, t('board'), current[1] === o.name && current[0] === 'k') : null)),
      list.filter((o) => consoleOf(o) && worksQueues()).map((o) => h('li', null, link(`#/console/${o.name}`,
        label(consoleOf(o).title, `${objectLabel(o)} · ${t('console')}`), current[1] === o.name && current[0] === 'console')))));
  }
  nav.addEventListener('click', (e) => { if (e.target.closest('a') && state.navOpen) { state.navOpen = false; nav.classList.remove('open'); } });
}

async function logout() {
  if (!mayLeave()) return;
  state.guards.clear();
  try { await api('DELETE', '/session'); } catch (e) { /* already gone */ }
  state.meta = null;
  state.user = null;
  state.csrf = null;
  state.names.clear();
  state.unshared.clear();
  localStorage.removeItem('crm.csrf');
  go('#/login');
}

// ---- login ---------------------------------------------------------------------------------
function viewLogin(main, next) {
  const err = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const user = h('input', { id: 'login', name: 'login', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'login', novalidate: true, on: { submit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      const { data } = await api('POST', '/session', { body: { login: user.value, password: pass.value } });
      state.csrf = data.csrf;
      localStorage.setItem('crm.csrf', data.csrf);
      state.user = data.user;
      state.meta = (await api('GET', '/meta')).data;
      go(next && !/^#\/?login/.test(next) && next !== '#' ? next : '#/home');
    } catch (ex) {
      err.textContent = `${t('loginFailed')}: ${ex.message}`;
    }
  } } },
  h('h1', { text: t('login') }),
  h('label', { for: 'login', text: t('user') }), user,
  h('label', { for: 'password', text: t('password') }), pass,
  h('button', { type: 'submit', class: 'primary', text: t('login') }), err);
  clear(main).append(form);
  user.focus();
  // "Sign up" where the server has a sign-up (GET /auth/signup: 204, else 404)
  api('GET', '/auth/signup').then(() => form.append(h('a', { href: '#/signup', class: 'signup-link', 'data-test': 'signup-link', text: t('signUp') })), () => {});
}

// ---- sign-up ---------------------------------------------------------------------------------
// POST /auth/signup answers 202 alike for a new and a taken address: the page says the same.
function viewSignup(main) {
  const err = h('p', { class: 'error', role: 'alert', id: 'signup-error' });
  const field = (id, labelText, attrs) => [h('label', { for: id, text: labelText }), h('input', { id, name: id, required: true, ...attrs })];
  const [nameLabel, name] = field('signup-name', t('fullName'), { autocomplete: 'name', maxlength: 120 });
  const [emailLabel, email] = field('signup-email', t('email'), { type: 'email', autocomplete: 'email' });
  const [passLabel, pass] = field('signup-password', t('password'), { type: 'password', autocomplete: 'new-password', minlength: 8, 'aria-describedby': 'signup-hint' });
  const form = h('form', { class: 'login signup', novalidate: true, 'data-test': 'signup', on: { submit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api('POST', '/auth/signup', { body: { name: name.value, email: email.value.trim(), password: pass.value, language: state.lang } });
      clear(form).append(h('h1', { text: t('signUpTitle') }), h('p', { class: 'notice', role: 'status', 'data-test': 'signup-sent', text: t('signUpSent') }),
        h('a', { href: '#/login', text: t('login') }));
    } catch (ex) {
      err.textContent = `${t('signUpFailed')}: ${ex.message}`;
    }
  } } },
  h('h1', { text: t('signUpTitle') }), nameLabel, name, emailLabel, email, passLabel, pass,
  h('small', { id: 'signup-hint', text: t('passwordHint') }),
  h('button', { type: 'submit', class: 'primary', text: t('signUp') }), err,
  h('a', { href: '#/login', text: t('haveAccount') }));
  clear(main).append(form);
  name.focus();
}

// #/verify?token=: the e-mail's link; the answer is a session, as a login's
async function viewVerify(main, token) {
  const box = h('div', { class: 'login', 'data-test': 'verify' }, h('h1', { text: t('verifying') }));
  clear(main).append(box);
  try {
    const { data } = await api('POST', '/auth/verify', { body: { token: token || '' } });
    state.csrf = data.csrf;
    localStorage.setItem('crm.csrf', data.csrf);
    state.user = data.user;
    state.meta = (await api('GET', '/meta')).data;
    go('#/home');
  } catch (ex) {
    clear(box).append(h('h1', { text: t('verifyFailed') }), h('p', { class: 'error', role: 'alert', text: ex.message }),
      h('a', { href: '#/signup', text: t('signUpAgain') }), ' · ', h('a', { href: '#/login', text: t('login') }));
  }
}

// ---- list ------------------------------------------------------------------------------------
function quote(v) { return `'${String(v).replace(/'/g, "''")}'`; }
const OPS = ['=', '!=', '>', '>=', '<', '<=', 'contains', 'is null', 'is not null'];

function filterBuilder(o, expression, onApply) {
  const usable = o.fields.filter((f) => !['json', 'geo', 'textarea'].includes(f.type));
  const fields = [...usable.filter((f) => !f.system), ...usable.filter((f) => f.system)];
  const fieldSel = h('select', { 'aria-label': t('field'), 'data-test': 'filter-field' },
    fields.map((f) => h('option', { value: f.name, text: fieldLabel(f) })));
  const opSel = h('select', { 'aria-label': t('operator'), 'data-test': 'filter-op' }, OPS.map((op) => h('option', { value: op, text: op })));
  const valueBox = h('span', { class: 'value-box' });
  let valueInput;
  const syncValue = () => {
    const f = fieldOf(o, fieldSel.value);
    const type = valueType(f);
    if (type === 'enum' || type === 'multienum') valueInput = h('select', null, (f.values || []).map((x) => h('option', { value: x.value, text: label(x.label, x.value) })));
    else if (type === 'bool') valueInput = h('select', null, h('option', { value: 'true', text: '✓' }), h('option', { value: 'false', text: '✗' }));
    else if (type === 'date') valueInput = h('input', { type: 'date' });
    else if (numeric(type) || isRef(f)) valueInput = h('input', { type: 'number', step: 'any' });
    else valueInput = h('input', { type: 'text' });
    valueInput.setAttribute('aria-label', t('value'));
    valueInput.dataset.test = 'filter-value';
    clear(valueBox).append(valueInput);
  };
  fieldSel.addEventListener('change', syncValue);
  syncValue();
  const exprInput = h('input', { type: 'text', class: 'expr', 'aria-label': t('expression'), 'data-test': 'filter-expr', value: expression || '', spellcheck: 'false' });
  const condition = () => {
    const f = fieldOf(o, fieldSel.value);
    const op = opSel.value;
    if (op === 'is null' || op === 'is not null') return `${f.name} ${op}`;
    const raw = valueInput.value;
    const type = valueType(f);
    if (op === 'contains') return `${f.name} like ${quote(`%${raw}%`)}`;
    if ((numeric(type) || isRef(f)) && raw !== '' && !Number.isNaN(Number(raw))) return `${f.name} ${op} ${Number(raw)}`;
    if (type === 'bool') return `${f.name} ${op} ${raw === 'true' ? 'true' : 'false'}`;
    return `${f.name} ${op} ${quote(raw)}`;
  };
  return h('form', { class: 'filter', role: 'search', 'aria-label': t('filter'), on: { submit: (e) => { e.preventDefault(); onApply(exprInput.value.trim()); } } },
    h('div', { class: 'builder' }, fieldSel, opSel, valueBox,
      h('button', { type: 'button', 'data-test': 'filter-add', text: t('addCond'), on: { click: () => {
        exprInput.value = exprInput.value.trim() ? `${exprInput.value.trim()} and ${condition()}` : condition();
      } } })),
    h('div', { class: 'builder' }, exprInput,
      h('button', { type: 'submit', class: 'primary', 'data-test': 'filter-apply', text: t('apply') }),
      h('button', { type: 'button', text: t('clear'), on: { click: () => onApply('') } })));
}

async function viewList(view, o, params) {
  const cols = chosenColumns(o);
  const q = {
    sort: params.get('sort') || '', filter: params.get('filter') || '', search: params.get('search') || '',
    deleted: params.get('deleted') === 'true',
  };
  const update = (changes) => go(hashWith(`/o/${o.name}`, { ...q, deleted: q.deleted ? 'true' : '', ...changes }));
  const started = performance.now();
  const table = h('table', { class: 'records', 'data-test': 'list' });
  const status = h('p', { class: 'pager-status', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', 'data-test': 'prev', text: `‹ ${t('prev')}` });
  const next = h('button', { type: 'button', 'data-test': 'next', text: `${t('next')} ›` });
  const cursors = [null];
  let page = 0;
  const error = h('p', { class: 'error', role: 'alert' });

  // bulk actions on the rows a person selects: change owner, delete; one batch, all or nothing
  const picked = new Set();
  const bulkCount = h('span', { class: 'bulk-count', 'data-test': 'bulk-count' });
  const ownerPick = h('select', { 'aria-label': t('changeOwner'), 'data-test': 'bulk-owner' }, h('option', { value: '', text: t('changeOwner') }));
  const bulkDelete = h('button', { type: 'button', 'data-test': 'bulk-delete', text: t('deleteSelected') });
  const seen = new Map();   // id -> the record as the list read it (its version for a bulk update, its title)
  const fieldForm = o.can && o.can.update ? bulkFieldForm(o, () => picked, seen, (ids) => {
    picked.clear();
    refreshBulk();
    load();
    return ids;
  }) : null;
  const bulk = h('div', { class: 'bulk', hidden: true, role: 'group', 'aria-label': t('bulkActions'), 'data-test': 'bulk' }, bulkCount,
    o.can && o.can.update ? ownerPick : null, o.can && o.can.delete ? bulkDelete : null, fieldForm);
  const refreshBulk = () => {
    bulk.hidden = picked.size === 0;
    bulkCount.textContent = `${picked.size} ${t('selected')}`;
    if (fieldForm && !picked.size) fieldForm.reset();
  };
  async function runBulk(op, values) {
    try {
      await api('POST', '/batch', { body: { operations: [...picked].map((id) => ({ op, object: o.name, id: Number(id), ...(values ? { values } : {}) })) } });
      toast(t('saved'));
      picked.clear();
      refreshBulk();
      load();
    } catch (e) { error.textContent = e.message; }
  }
  ownerPick.addEventListener('change', () => { if (ownerPick.value) runBulk('update', { owner: Number(ownerPick.value) }); ownerPick.value = ''; });
  bulkDelete.addEventListener('click', () => { if (window.confirm(t('confirmDelete'))) runBulk('delete'); });
  if (objectOf('user') && o.can && o.can.update) {
    api('GET', '/objects/user', { query: { fields: `id,${titleField(objectOf('user'))}`, limit: 200, sort: titleField(objectOf('user')) } })
      .then(({ data }) => { for (const u of data.records) ownerPick.append(h('option', { value: String(u.id), text: recordTitle(objectOf('user'), u) })); }, () => {});
  }
  const head = h('tr', null, q.deleted ? null : h('th', { scope: 'col', class: 'select' }, h('span', { class: 'visually-hidden', text: t('selectRow') })), cols.map((n) => {
    const f = fieldOf(o, n);
    const dir = q.sort === n ? 'ascending' : q.sort === `-${n}` ? 'descending' : null;
    return h('th', { scope: 'col', 'aria-sort': dir },
      h('button', { type: 'button', class: 'sort', 'data-field': n, text: `${fieldLabel(f)}${dir === 'ascending' ? ' ▲' : dir === 'descending' ? ' ▼' : ''}`,
        on: { click: () => update({ sort: q.sort === n ? `-${n}` : n }) } }));
  }), q.deleted ? h('th', { scope: 'col', text: t('action') }) : null);
  const body = h('tbody');
  table.append(h('thead', null, head), body);

  async function load() {
    error.textContent = '';
    let data;
    try {
      ({ data } = await api('GET', `/objects/${o.name}`, { query: {
        limit: PAGE, sort: q.sort, filter: q.filter, search: q.search, after: cursors[page], count: page === 0 ? 'estimate' : '',
        deleted: q.deleted ? 'true' : '',
      } }));
    } catch (e) {
      error.textContent = e.message;
      return;
    }
    await resolveRefs(o, data.records, cols);
    clear(body);
    if (!data.records.length) body.append(h('tr', null, h('td', { colspan: cols.length + 1, class: 'empty', text: t('noRecords') })));
    for (const r of data.records) {
      seen.set(String(r.id), r);
      const box = q.deleted ? null : h('input', { type: 'checkbox', 'aria-label': `${t('selectRow')} ${recordTitle(o, r)}`, checked: picked.has(String(r.id)),
        on: { change: (e) => { if (e.target.checked) picked.add(String(r.id)); else picked.delete(String(r.id)); refreshBulk(); } } });
      body.append(h('tr', { dataset: { id: r.id } }, box ? h('td', { class: 'select' }, box) : null, cols.map((n, i) => {
        const f = fieldOf(o, n);
        const cell = i === 0 ? h('a', { href: `#/o/${o.name}/${r.id}`, text: formatValue(f, r[n], r) || `#${r.id}` }) : valueNode(f, r[n], r);
        return h('td', { 'data-label': fieldLabel(f), class: cellClass(f) }, cell);
      }), q.deleted ? h('td', null, h('button', { type: 'button', text: t('restore'), on: { click: async () => {
        try { await api('POST', `/objects/${o.name}/${r.id}/restore`); toast(t('restore')); load(); } catch (e) { error.textContent = e.message; }
      } } })) : null));
    }
    cursors[page + 1] = data.next;
    if (page === 0 && data.total != null) status.dataset.total = data.total;
    const from = page * PAGE + (data.records.length ? 1 : 0);
    status.textContent = `${from}–${page * PAGE + data.records.length}${status.dataset.total ? ` ${t('of')} ${status.dataset.total}` : ''}`;
    prev.disabled = page === 0;
    next.disabled = !data.next;
  }
  prev.addEventListener('click', () => { if (page > 0) { page--; load(); } });
  next.addEventListener('click', () => { if (cursors[page + 1]) { page++; load(); } });

  const actions = h('div', { class: 'actions' },
    o.can && o.can.create && !q.deleted ? h('a', { class: 'button primary', href: `#/o/${o.name}/new`, text: t('new') }) : null,
    kanbanOf(o) ? h('a', { class: 'button', href: `#/k/${o.name}`, text: t('board') }) : null,
    // the current view as CSV (the same filter, sort and search; the server streams it under the caller's rules)
    q.deleted ? null : h('a', { class: 'button', 'data-test': 'export', download: `${o.name}.csv`, text: t('exportCsv'),
      href: `/api/v1/objects/${o.name}?${new URLSearchParams(Object.entries({ format: 'csv', filter: q.filter, sort: q.sort, search: q.search }).filter(([, v]) => v)).toString()}` }),
    h('a', { class: 'button', href: hashWith(`/o/${o.name}`, q.deleted ? {} : { deleted: 'true' }), text: q.deleted ? t('live') : t('recycle') }));
  const searchForm = hasSearch(o) ? h('form', { class: 'search', role: 'search', on: { submit: (e) => {
    e.preventDefault();
    update({ search: e.target.elements.q.value.trim(), after: '' });
  } } }, h('input', { type: 'search', name: 'q', 'aria-label': t('search'), placeholder: t('search'), value: q.search }),
  h('button', { type: 'submit', text: t('search') })) : null;
  // the column chooser: every field the caller reads, checked ones shown, kept per object in this browser
  const chooser = h('details', { class: 'columns', 'data-test': 'columns' }, h('summary', { text: t('columns') }),
    h('div', { class: 'column-list' }, o.fields.filter((f) => f.name !== 'deleted_at').map((f) => h('label', null,
      h('input', { type: 'checkbox', value: f.name, checked: cols.includes(f.name), on: { change: () => {
        const picked = [...chooser.querySelectorAll('input:checked')].map((x) => x.value);
        const ordered = [...cols.filter((n) => picked.includes(n)), ...picked.filter((n) => !cols.includes(n))];
        localStorage.setItem(COLUMNS(o), JSON.stringify(ordered));
        render();
      } } }), ` ${fieldLabel(f)}`))),
    h('button', { type: 'button', text: t('resetColumns'), on: { click: () => { localStorage.removeItem(COLUMNS(o)); render(); } } }));
  view.append(
    h('div', { class: 'title' }, h('h1', { text: `${objectPlural(o)}${q.deleted ? ` · ${t('recycle')}` : ''}` }), actions),
    chooser,
    q.deleted ? null : await savedViews(o, q, update),
    h('div', { class: 'tools' }, searchForm, filterBuilder(o, q.filter, (expr) => update({ filter: expr }))),
    error, bulk, h('div', { class: 'scroll' }, table), h('div', { class: 'pager' }, prev, status, next));
  await load();
  requestAnimationFrame(() => {
    const ms = Math.round(performance.now() - started);
    document.body.dataset.listPaint = String(ms);
  });
}

// "Update a field" on a list's selected rows: a writable field, a value in the form's widget for its
// type, applied in ONE POST /batch of updates, each with the version the list read (all or nothing:
// a refused row is named with the server's reason, its row marked, and nothing is changed).
// pickedOf: () => the selected ids; seen: id -> record as listed; done(ids) after a save.
function bulkFieldForm(o, pickedOf, seen, done) {
  const fields = o.fields.filter((f) => editable(f) && !['json', 'textarea', 'multienum', 'geo'].includes(f.type));
  const fieldSel = h('select', { id: 'bulk-field', 'data-test': 'bulk-field' }, h('option', { value: '', text: '—' }),
    fields.map((f) => h('option', { value: f.name, text: fieldLabel(f) })));
  const valueBox = h('span', { class: 'value-box', 'data-test': 'bulk-value' });
  const err = h('p', { class: 'error', role: 'alert', 'data-test': 'bulk-error' });
  const apply = h('button', { type: 'submit', class: 'primary', 'data-test': 'bulk-apply', text: t('apply'), disabled: true });
  let input = null;
  const marked = () => document.querySelectorAll('table[data-test=list] tr.invalid');
  const unmark = () => { for (const tr of marked()) tr.classList.remove('invalid'); };
  fieldSel.addEventListener('change', () => {
    const f = fieldOf(o, fieldSel.value);
    clear(valueBox);
    err.textContent = '';
    input = f ? widget(f, null, 'bulk-input') : null;
    if (input) {
      const control = controlOf(input);
      control.setAttribute('aria-label', `${t('value')}: ${fieldLabel(f)}`);
      control.setAttribute('aria-describedby', 'bulk-error-text');
      valueBox.append(input);
    }
    apply.disabled = !input;
  });
  err.id = 'bulk-error-text';
  const details = h('details', { class: 'bulk-field', 'data-test': 'bulk-update' }, h('summary', { text: t('updateField') }));
  const form = h('form', { class: 'bulk-field-form', novalidate: true, on: { submit: async (e) => {
    e.preventDefault();
    const f = fieldOf(o, fieldSel.value);
    if (!f || !input) return;
    err.textContent = '';
    unmark();
    const control = controlOf(input);
    if (control && control.validity && control.validity.badInput) {
      err.textContent = t('invalidInput');
      control.setAttribute('aria-invalid', 'true');
      control.focus();
      return;
    }
    if (control) control.removeAttribute('aria-invalid');
    const value = input.readValue();
    const ids = [...pickedOf()];
    // a selected row from another page (or read before a save elsewhere): its version first
    for (const id of ids) if (!seen.has(id)) {
      try { seen.set(id, (await api('GET', `/objects/${o.name}/${id}`)).data); } catch (ex) { err.textContent = ex.message; return; }
    }
    const operations = ids.map((id) => ({ op: 'update', object: o.name, id: Number(id), version: seen.get(id).version, values: { [f.name]: value } }));
    apply.disabled = true;
    try {
      await api('POST', '/batch', { body: { operations } });
    } catch (ex) {
      const p = ex.problem || {};
      const at = Number.isInteger(p.failed) ? ids[p.failed] : null;
      const result = at != null && Array.isArray(p.results) ? p.results[p.failed] : null;
      const list = (result && Array.isArray(result.errors) ? result.errors : p.errors) || [];
      const reasons = list.length ? list.map((x) => (x.field && fieldOf(o, x.field) ? `${fieldLabel(fieldOf(o, x.field))}${t('colon')}${x.message}` : x.message))
        : [result && result.message ? result.message : ex.message];
      const row = at != null ? document.querySelector(`table[data-test=list] tr[data-id="${CSS.escape(at)}"]`) : null;
      if (row) row.classList.add('invalid');
      err.textContent = [t('notSaved'), at != null ? `${recordTitle(o, seen.get(at) || { id: at })}${t('colon')}${reasons.join('; ')}` : reasons.join('; ')].join(' — ');
      if (control) { control.setAttribute('aria-invalid', 'true'); control.focus(); }
      apply.disabled = false;
      return;
    }
    apply.disabled = false;
    toast(`${t('saved')}: ${fieldLabel(f)} · ${ids.length}`);
    details.open = false;
    done(ids);
  } } }, h('label', { for: 'bulk-field', text: t('field') }), fieldSel, valueBox, apply, err);
  details.append(form);
  details.reset = () => { fieldSel.value = ''; fieldSel.dispatchEvent(new Event('change')); details.open = false; unmark(); };
  return details;
}

// ---- record page (and the 360 page: the same, with every related list longer) ---------------
function relatedSpecs(o) {
  const out = [];
  for (const child of objects())
    for (const f of child.fields)
      if (f.type === 'ref' && f.to === o.name && !f.system) out.push({ child, field: f });
  return out;
}

// A child made from its parent's page starts linked to the parent, and holding the parent's other refs
// that it has too (the same name and target): a quote made from a deal takes the deal's account.
function childDefaults(o, r, child, field) {
  const out = { [field.name]: r.id };
  for (const f of child.fields) {
    const theirs = fieldOf(o, f.name);
    if (f !== field && isRef(f) && editable(f) && theirs && isRef(theirs) && theirs.to === f.to && r[f.name] != null) out[f.name] = r[f.name];
  }
  return out;
}

async function getRecord(o, id) {
  try {
    return await api('GET', `/objects/${o.name}/${id}`);
  } catch (e) {
    if (e.status !== 404) throw e;
    return api('GET', `/objects/${o.name}/${id}`, { query: { deleted: 'true' } });
  }
}

async function viewRecord(view, o, id, full) {
  const { data: r, etag } = await getRecord(o, id);
  const shown = o.fields.map((f) => f.name);
  const lines = linesOf(o);
  // the lines' object is edited in the grid: not listed again among the related lists
  const specs = relatedSpecs(o).filter(({ child, field }) => !(lines && child === lines.child && field.name === lines.ref));
  await resolveRefs(o, [r], shown);
  rememberRecord(o, r);   // for the home page's "recently viewed" (by the names just read)
  const message = h('p', { class: 'error', role: 'alert' });
  const notice = h('p', { class: 'notice', role: 'status', 'data-test': 'record-notice' });
  if (state.flash && state.flash.key === `${o.name}:${id}`) notice.textContent = state.flash.text;
  state.flash = null;
  const buttons = h('div', { class: 'actions' });
  if (r.deleted_at) {
    buttons.append(h('span', { class: 'badge', text: t('deleted') }));
    if (o.can && o.can.delete) buttons.append(h('button', { type: 'button', class: 'primary', text: t('restore'), on: { click: async () => {
      try { await api('POST', `/objects/${o.name}/${id}/restore`); toast(t('restore')); render(); } catch (e) { message.textContent = e.message; }
    } } }));
  } else {
    if (o.can && o.can.update) buttons.append(h('a', { class: 'button primary', href: `#/o/${o.name}/${id}/edit`, text: t('edit') }));
    if (specs.length && !full) buttons.append(h('a', { class: 'button', href: `#/360/${o.name}/${id}`, text: t('c360') }));
    if (full) buttons.append(h('a', { class: 'button', href: `#/o/${o.name}/${id}`, text: t('details') }));
    if (o.can && o.can.delete) buttons.append(h('button', { type: 'button', class: 'danger', text: t('delete'), on: { click: async () => {
      if (!window.confirm(t('confirmDelete'))) return;
      try { await api('DELETE', `/objects/${o.name}/${id}`, { headers: { 'If-Match': etag } }); toast(t('deleted')); render(); } catch (e) { message.textContent = e.message; }
    } } }));
  }
  // transitions (the workflow engine adds _transitions to a record; each becomes a button)
  // the stage path: a workflow field's states in order (its enum values), done / current / ahead
  const stagePaths = (o.workflows || []).map((w) => {
    const f = fieldOf(o, w.field);
    if (!f || !Array.isArray(f.values)) return null;
    const at = f.values.findIndex((v) => v.value === r[w.field]);
    return h('ol', { class: 'stage-path', 'aria-label': `${t('stagePath')}: ${fieldLabel(f)}`, 'data-test': `stage-path-${w.field}` },
      f.values.map((v, i) => h('li', { class: i < at ? 'done' : i === at ? 'current' : 'ahead', 'aria-current': i === at ? 'step' : null,
        text: label(v.label, v.value) })));
  }).filter(Boolean);
  // the transition and plugin action buttons, refilled when the record is read again in place (saved
  // lines change what a guard sees: a quote's Submit needs a line)
  const transitionBar = h('div', { class: 'transitions', role: 'group', 'aria-label': t('transitions') });
  const askBox = h('div', { class: 'transition-ask', 'data-test': 'transition-ask', hidden: true });
  const actionBar = h('div', { class: 'transitions plugin-actions', role: 'group', 'aria-label': t('actions') });
  // plugin actions declared for this object (plugin.yaml actions:) whose `when` holds: buttons too
  const actionDecl = (name) => (o.actions || []).find((a) => a.name === name) || { name };
  const fillBars = (rec) => {
    const transitions = Array.isArray(rec._transitions) ? rec._transitions : [];
    clear(transitionBar).append(...transitions.map((tr) => {
      const name = typeof tr === 'string' ? tr : tr.name;
      // fires it with the values asked for: field errors go back to the form that asked
      const fireWith = async (body) => {
        try {
          const { data } = await api('POST', `/objects/${o.name}/${id}/transitions/${encodeURIComponent(name)}`, { body, headers: { 'If-Match': etag } });
          if (data && data.status === 'pending_approval') {
            state.flash = { key: `${o.name}:${id}`, text: `${t('pending')}: ${transitionLabel(o, name)}` };
            toast(t('pending'));
          } else toast(t('saved'));
          render();
          return null;
        } catch (e) { message.textContent = transitionError(o, name, e); return e; }
      };
      return h('button', { type: 'button', 'data-transition': name, text: transitionLabel(o, name), on: { click: async () => {
        // a transition whose require: names fields the record lacks asks for them first (a check-in's location)
        const def = transitionOf(o, name);
        const missing = ((def && def.require) || []).map((n) => fieldOf(o, n))
          .filter((f) => f && editable(f) && (rec[f.name] == null || rec[f.name] === ''));
        if (missing.length) {
          clear(askBox).append(requireForm(o, name, missing, (body) => fireWith(body)));
          askBox.hidden = false;
          return;
        }
        await fireWith({});
      } } });
    }));
    transitionBar.hidden = !transitions.length;
    const actions = Array.isArray(rec._actions) ? rec._actions : [];
    clear(actionBar).append(...actions.map((name) => {
      const decl = actionDecl(name);
      return h('button', { type: 'button', 'data-action': name, text: label(decl.label, prettify(name.split('.').pop())), on: { click: async () => {
        if (decl.confirm && !window.confirm(label(decl.confirm, ''))) return;
        try {
          await api('POST', `/objects/${o.name}/${id}/actions/${encodeURIComponent(name)}`, { body: {} });
          toast(t('saved'));
          render();
        } catch (e) { message.textContent = e.message; }
      } } });
    }));
    actionBar.hidden = !actions.length;
  };
  fillBars(r);
  const groups = [
    [t('details'), o.fields.filter((f) => !f.system && f.type !== 'textarea')],
    [t('longText'), o.fields.filter((f) => !f.system && f.type === 'textarea')],
    [t('system'), o.fields.filter((f) => f.system && f.name !== 'deleted_at' || (f.name === 'deleted_at' && r.deleted_at))],
  ];
  append(view, [h('div', { class: 'title' },
    h('div', null, h('p', { class: 'crumb' }, h('a', { href: `#/o/${o.name}`, text: objectLabel(o) })),
      h('h1', { 'data-test': 'record-title', text: recordHeading(o, r) })), buttons), ...stagePaths, message, notice, transitionBar, askBox, actionBar]);
  if (!r.deleted_at) append(view, [await pendingApprovals(o, id), o.name === APPROVAL ? decisionBox(o, r, message) : null]);
  const grid = h('div', { class: full ? 'record full' : 'record' });
  for (const [title, fields] of groups) {
    if (!fields.length) continue;
    grid.append(h('section', { class: 'group' }, h('h2', { text: title }),
      h('dl', null, fields.map((f) => [h('dt', { text: fieldLabel(f) }), h('dd', { 'data-field': f.name }, valueNode(f, r[f.name], r))]))));
  }
  view.append(grid);
  if (lines) {
    // after the lines are saved: the record again, in place (its rollups over the lines changed)
    const reread = async () => {
      const { data: fresh } = await getRecord(o, id);
      if (fresh.version !== r.version) { render(); return fresh; }   // changed otherwise too: every button's version
      await resolveRefs(o, [fresh], shown);
      for (const f of o.fields) {
        const dd = grid.querySelector(`dd[data-field="${CSS.escape(f.name)}"]`);
        if (dd) clear(dd).append(valueNode(f, fresh[f.name], fresh));
      }
      Object.assign(r, fresh);
      fillBars(fresh);
      return fresh;
    };
    view.append(await linesGrid(o, r, lines, reread));
  }

  // related lists, fetched in parallel
  const limit = full ? 20 : RELATED;
  const sections = await Promise.all(specs.map(async ({ child, field }) => {
    const cols = listColumns(child).filter((n) => n !== field.name).slice(0, 5);
    const filter = `${field.name} = ${Number(id)}`;
    let data;
    try {
      ({ data } = await api('GET', `/objects/${child.name}`, { query: { filter, limit, count: 'estimate' } }));
    } catch (e) {
      return null;
    }
    await resolveRefs(child, data.records, cols);
    const title = specs.filter((x) => x.child === child).length > 1 ? `${objectLabel(child)} (${fieldLabel(field)})` : objectLabel(child);
    return h('section', { class: 'related', 'data-related': child.name },
      h('div', { class: 'title' }, h('h2', { text: `${title} · ${data.total != null ? data.total : data.records.length}` }),
        h('div', { class: 'actions' },
          child.can && child.can.create ? h('a', { class: 'button', 'data-test': 'related-new', href: hashWith(`/o/${child.name}/new`, childDefaults(o, r, child, field)), text: t('new') }) : null,
          h('a', { class: 'button', href: hashWith(`/o/${child.name}`, { filter }), text: t('viewAll') }))),
      data.records.length ? h('div', { class: 'scroll' }, h('table', { class: 'records' },
        h('thead', null, h('tr', null, cols.map((n) => h('th', { scope: 'col', text: fieldLabel(fieldOf(child, n)) })))),
        h('tbody', null, data.records.map((cr) => h('tr', { dataset: { id: cr.id } }, cols.map((n, i) => {
          const f = inCurrencyOf(fieldOf(child, n), o, r);
          return h('td', { 'data-label': fieldLabel(f), class: cellClass(f) },
            i === 0 ? h('a', { href: `#/o/${child.name}/${cr.id}`, text: formatValue(f, cr[n], cr) || `#${cr.id}` }) : valueNode(f, cr[n], cr));
        })))))) : h('p', { class: 'empty', text: t('noRecords') }));
  }));
  const composer = r.deleted_at ? null : composerFor(o, id);
  if (composer) view.append(composer);
  if (specs.length) view.append(h('h2', { class: 'section-title', text: t('related') }), ...sections.filter(Boolean));

  if (!r.deleted_at) {
    const files = await attachmentsPanel(o, id);
    if (files) view.append(files);
  }

  // history: with a composer (views.composer), one timeline of its records (calls, tasks, notes) and
  // the record's changes, newest first; else the history table
  let history = [];
  try {
    ({ data: { history } } = await api('GET', `/objects/${o.name}/${id}/history`));
  } catch (e) { history = null; /* no history right */ }
  const users = (history || []).map((x) => x.user).filter((x) => x != null);
  const userField = fieldOf(o, 'owner') || { name: 'user', type: 'user', to: 'user' };
  await resolveRefs({ fields: [{ ...userField, name: 'user' }] }, users.map((u) => ({ user: u })), ['user']).catch(() => {});
  const timeline = await timelineOf(o, r, history);
  if (timeline) { view.append(timeline); return; }
  if (!history) return;
  view.append(h('section', { class: 'history' }, h('h2', { text: t('history') }), h('div', { class: 'scroll' }, h('table', { class: 'records' },
    h('thead', null, h('tr', null, [t('at'), t('by'), t('action'), t('changes')].map((x) => h('th', { scope: 'col', text: x })))),
    h('tbody', null, history.map((x) => h('tr', null,
      h('td', { 'data-label': t('at'), text: formatValue({ type: 'datetime' }, x.at) }),
      h('td', { 'data-label': t('by'), text: x.user == null ? '—' : state.names.get(`user:${x.user}`) || `#${x.user}` }),
      h('td', { 'data-label': t('action'), text: auditAction(o, x) }),
      h('td', { 'data-label': t('changes'), class: 'changes' }, changesNode(o, x.changes, r)))))))));
}

// ---- attachments ----------------------------------------------------------------------
// A record's files (GET /objects/{o}/{id}/attachments): name (a download link), size, type, who and
// when; a file picker and drag and drop to attach more (multipart, the session's CSRF token), a
// delete button per file. null when the caller may not read the record's files (or there are none
// to have: no attachment object).
function fileSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
async function uploadAttachment(o, id, file) {
  const form = new FormData();
  form.append('file', file, file.name);
  state.csrf = localStorage.getItem('crm.csrf') || state.csrf;
  const res = await fetch(`/api/v1/objects/${o.name}/${id}/attachments`, {
    method: 'POST', credentials: 'same-origin', body: form,
    headers: { Accept: 'application/json', ...(state.csrf ? { 'X-CSRF-Token': state.csrf } : {}) },
  });
  const data = /json/.test(res.headers.get('content-type') || '') ? await res.json() : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
async function attachmentsPanel(o, id) {
  let records;
  try {
    ({ data: { records } } = await api('GET', `/objects/${o.name}/${id}/attachments`));
  } catch (e) { return null; }
  const message = h('p', { class: 'error', role: 'alert' });
  const body = h('div', { class: 'attachment-list' });
  const section = h('section', { class: 'related attachments', 'data-test': 'attachments', 'aria-labelledby': 'attachments-title' });
  const title = h('h2', { id: 'attachments-title' });
  const fill = (list) => {
    title.textContent = `${t('attachments')} · ${list.length}`;
    clear(body).append(list.length ? h('div', { class: 'scroll' }, h('table', { class: 'records' },
      h('thead', null, h('tr', null, [t('fileName'), t('fileSize'), t('fileType'), t('at'), ''].map((x) => h('th', { scope: 'col', text: x })))),
      h('tbody', null, list.map((a) => h('tr', { dataset: { attachment: a.id } },
        h('td', { 'data-label': t('fileName') }, h('a', { href: `/api/v1/attachments/${a.id}/content`, download: a.file_name,
          title: t('download'), text: a.file_name })),
        h('td', { 'data-label': t('fileSize'), class: 'num', text: fileSize(a.size) }),
        h('td', { 'data-label': t('fileType'), text: a.content_type }),
        h('td', { 'data-label': t('at'), text: formatValue({ type: 'datetime' }, a.created_at) }),
        h('td', null, o.can && o.can.update ? h('button', { type: 'button', class: 'link', 'data-test': 'attachment-delete', text: t('delete'),
          on: { click: async () => {
            if (!window.confirm(t('confirmDeleteFile'))) return;
            try { await api('DELETE', `/attachments/${a.id}`); await reload(); } catch (e) { message.textContent = problemText(e.problem) || e.message; }
          } } }) : null)))))) : h('p', { class: 'empty', text: t('noFiles') }));
  };
  const reload = async () => {
    const { data } = await api('GET', `/objects/${o.name}/${id}/attachments`);
    fill(data.records);
  };
  const send = async (files) => {
    message.textContent = '';
    for (const file of files) {
      toast(`${t('uploading')} ${file.name}`);
      try { await uploadAttachment(o, id, file); toast(t('uploaded')); } catch (e) { message.textContent = `${file.name}: ${problemText(e.problem) || e.message}`; }
    }
    await reload();
  };
  fill(records);
  let controls = null;
  if (o.can && o.can.update) {
    const picker = h('input', { type: 'file', multiple: true, 'data-test': 'attachment-input', 'aria-label': t('attachFile'),
      on: { change: () => { if (picker.files.length) send([...picker.files]).finally(() => { picker.value = ''; }); } } });
    controls = h('label', { class: 'dropzone', 'data-test': 'attachment-drop' }, h('span', { class: 'button', text: t('attachFile') }),
      h('span', { text: ` ${t('dropFiles')}` }), picker);
    for (const kind of ['dragenter', 'dragover']) controls.addEventListener(kind, (ev) => { ev.preventDefault(); controls.classList.add('over'); });
    controls.addEventListener('dragleave', () => controls.classList.remove('over'));
    controls.addEventListener('drop', (ev) => {
      ev.preventDefault();
      controls.classList.remove('over');
      if (ev.dataTransfer && ev.dataTransfer.files.length) send([...ev.dataTransfer.files]);
    });
  }
  section.append(h('div', { class: 'title' }, title, controls), message, body);
  return section;
}

// The timeline of a record whose object declares a composer: the composer's records linked to it
// (an activity: its kind, e.g. call, task, note, from the first enum the composer asks for; at its due
// time, else when it was made) and the record's history (kind "change"), in one list, newest first,
// each with who and when. null when the object has no composer or the caller reads neither.
const TIMELINE = 50;
async function timelineOf(o, r, history) {
  const spec = o.views && o.views.composer;
  const child = spec && objectOf(spec.object);
  if (!child || !fieldOf(child, spec.ref)) return null;
  let records = null;
  try {
    ({ data: { records } } = await api('GET', `/objects/${child.name}`, { query: { filter: `${spec.ref} = ${Number(r.id)}`, sort: '-created_at', limit: TIMELINE } }));
  } catch (e) { /* the caller may not read them */ }
  if (!records && !history) return null;
  const kindField = (spec.fields || []).map((n) => fieldOf(child, n)).find((f) => f && f.type === 'enum') || null;
  const whenField = (spec.fields || []).map((n) => fieldOf(child, n)).find((f) => f && (f.type === 'datetime' || f.type === 'date')) || null;
  const who = fieldOf(child, 'owner') ? 'owner' : 'created_by';
  await resolveRefs(child, records || [], [who]).catch(() => {});
  const entries = [
    ...(records || []).map((a) => ({ at: (whenField && a[whenField.name]) || a.created_at, user: a[who], kind: kindField ? a[kindField.name] : child.name, record: a })),
    ...(history || []).map((x) => ({ at: x.at, user: x.user, kind: 'change', change: x })),
  // within one second (the stamps' grain): records before changes, a later change (a higher id) first
  ].sort((a, b) => String(b.at).localeCompare(String(a.at)) || (a.kind === 'change') - (b.kind === 'change')
    || (a.change && b.change ? b.change.id - a.change.id : 0));
  const whenOf = (at) => (String(at).length <= 10 ? String(at) : formatValue({ type: 'datetime' }, at));
  const item = (e) => {
    const kindText = e.kind === 'change' ? t('change') : kindField ? enumLabel(kindField, e.kind) : objectLabel(child);
    const body = e.kind === 'change'
      ? h('div', { class: 'tl-body' }, h('strong', { text: auditAction(o, e.change) }), changesNode(o, e.change.changes, r))
      : h('div', { class: 'tl-body' }, h('a', { href: `#/o/${child.name}/${e.record.id}`, text: recordTitle(child, e.record) }),
        ...child.fields.filter((f) => f.type === 'enum' && f !== kindField && f.name !== 'priority' && e.record[f.name] != null).slice(0, 1)
          .map((f) => h('span', { class: 'tl-state', text: ` · ${enumLabel(f, e.record[f.name])}` })));
    return h('li', { class: `tl-item kind-${e.kind === 'change' ? 'change' : 'record'}`, dataset: { kind: e.kind, id: e.record ? e.record.id : null } },
      h('span', { class: 'tl-kind', text: kindText }),
      h('div', { class: 'tl-main' }, body,
        h('p', { class: 'tl-meta' }, h('time', { datetime: String(e.at), text: whenOf(e.at) }), ' · ',
          e.user == null ? '—' : state.names.get(`user:${e.user}`) || `#${e.user}`)));
  };
  return h('section', { class: 'history timeline', 'data-test': 'timeline', 'aria-labelledby': 'timeline-title' },
    h('h2', { id: 'timeline-title', text: `${t('timeline')} · ${entries.length}` }),
    entries.length ? h('ol', { class: 'tl' }, entries.map(item)) : h('p', { class: 'empty', text: t('nothingHere') }));
}

// The approval requests pending on a record (those the caller may read: approver or requester).
async function pendingApprovals(o, id) {
  const ao = objectOf(APPROVAL);
  if (!ao || o.name === APPROVAL) return null;
  try {
    const { data } = await api('GET', `/objects/${APPROVAL}`, {
      query: { filter: `object_name = ${quote(o.name)} and record_id = ${Number(id)} and status = 'pending'`, limit: 10 },
    });
    if (!data.records.length) return null;
    const approver = fieldOf(ao, 'approver');
    await resolveRefs(ao, data.records, ['approver']);
    return h('section', { class: 'approvals', 'data-test': 'pending-approvals' }, h('h2', { text: t('pending') }),
      h('ul', null, data.records.map((a) => h('li', null,
        h('a', { href: `#/o/${APPROVAL}/${a.id}`, text: `${prettify(String(a.transition || ''))} · ${a.step}/${a.steps}` }), ' — ',
        approver ? valueNode(approver, a.approver) : `#${a.approver}`))));
  } catch (e) {
    return null;
  }
}

// Approve / Reject with a comment on an approval record (POST .../approval/{id}/approve|reject).
function decisionBox(o, r, message) {
  const target = objectOf(r.object_name);
  const link = target && r.record_id != null
    ? h('p', null, `${t('target')}: `, h('a', { href: `#/o/${r.object_name}/${r.record_id}`, 'data-test': 'approval-target', text: `${objectLabel(target)} #${r.record_id}` }))
    : null;
  if (r.status !== 'pending') return link;
  const comment = h('textarea', { id: 'decision-comment', rows: '2', maxlength: '2000', 'data-test': 'decision-comment' });
  const decide = (verb) => async () => {
    for (const b of box.querySelectorAll('button')) b.disabled = true;
    try {
      await api('POST', `/objects/${o.name}/${r.id}/${verb}`, { body: { comment: comment.value || null } });
      toast(t(verb === 'approve' ? 'approved' : 'rejected'));
      render();
    } catch (e) {
      message.textContent = e.message;
      for (const b of box.querySelectorAll('button')) b.disabled = false;
    }
  };
  const box = h('section', { class: 'decision', 'data-test': 'decision' }, link,
    h('label', { for: 'decision-comment', text: t('comment') }), comment,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', 'data-test': 'approve', text: t('approve'), on: { click: decide('approve') } }),
      h('button', { type: 'button', class: 'danger', 'data-test': 'reject', text: t('reject'), on: { click: decide('reject') } })));
  return box;
}

// An audit entry's changes: { field: [old, new] } for an update or a transition ({ old, new } read
// too); a transition's name (_transition) is shown as the action. record: the record as it is now
// (money reads its currency there).
const transitionOfChange = (changes) => (changes && Array.isArray(changes._transition) ? changes._transition[1] : null);
const AUDIT_ACTIONS = { create: 'auditCreate', update: 'auditUpdate', delete: 'deleted', restore: 'auditRestore' };
const auditAction = (o, x) => (transitionOfChange(x.changes) ? transitionLabel(o, transitionOfChange(x.changes))
  : AUDIT_ACTIONS[x.action] ? t(AUDIT_ACTIONS[x.action]) : x.action);
function changesNode(o, changes, record) {
  if (!changes || typeof changes !== 'object') return '';
  return h('ul', null, Object.entries(changes).filter(([name]) => name !== '_transition').map(([name, change]) => {
    const f = fieldOf(o, name) || { name, type: 'text' };
    const pair = Array.isArray(change) && change.length === 2 ? change
      : change && typeof change === 'object' && ('old' in change || 'new' in change) ? [change.old, change.new] : null;
    const text = pair ? `${formatValue(f, pair[0], record) || '—'} → ${formatValue(f, pair[1], record) || '—'}` : formatValue(f, change, record);
    return h('li', null, h('strong', { text: `${fieldLabel(f)}: ` }), text);
  }));
}

// ---- create / edit form --------------------------------------------------------------------------
function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A ref picker: a combobox that searches the target object as the user types.
function refPicker(f, value, id) {
  const target = objectOf(f.to);
  let current = value == null ? null : value;
  const input = h('input', { id, type: 'text', role: 'combobox', autocomplete: 'off', 'aria-autocomplete': 'list', 'aria-expanded': 'false',
    'aria-controls': `${id}-list`, value: current == null ? '' : state.names.get(`${f.to}:${current}`) || `#${current}` });
  const listbox = h('ul', { id: `${id}-list`, role: 'listbox', class: 'options', hidden: true });
  const wrap = h('div', { class: 'picker' }, input, listbox);
  let timer = null;
  let seq = 0;
  const close = () => { listbox.hidden = true; input.setAttribute('aria-expanded', 'false'); };
  const choose = (rid, name) => {
    // a search still waiting for its timer or its answer must not reopen the list
    clearTimeout(timer);
    seq++;
    current = rid;
    input.value = name;
    close();
    input.dispatchEvent(new Event('change', { bubbles: true }));
  };
  const searchNow = async () => {
    const my = ++seq;
    const text = input.value.trim();
    if (!target) return;
    const title = titleField(target);
    const query = { limit: 8, fields: `id,${title}` };
    if (text && hasSearch(target)) query.search = text;
    else if (text && title !== 'id') query.filter = `${title} like ${quote(`%${text}%`)}`;
    let data;
    try { ({ data } = await api('GET', `/objects/${f.to}`, { query })); } catch (e) { return; }
    if (my !== seq) return;
    clear(listbox);
    for (const r of data.records) {
      const name = recordTitle(target, r);
      state.names.set(`${f.to}:${r.id}`, name);
      listbox.append(h('li', { role: 'option', tabindex: '-1', dataset: { id: r.id }, text: name, on: {
        mousedown: (e) => { e.preventDefault(); choose(r.id, name); },
        keydown: (e) => {
          if (e.key === 'Enter') { e.preventDefault(); choose(r.id, name); input.focus(); }
          else if (e.key === 'ArrowDown' && e.target.nextSibling) { e.preventDefault(); e.target.nextSibling.focus(); }
          else if (e.key === 'ArrowUp') { e.preventDefault(); (e.target.previousSibling || input).focus(); }
          else if (e.key === 'Escape') { close(); input.focus(); }
        },
      } }));
    }
    listbox.hidden = !data.records.length;
    input.setAttribute('aria-expanded', String(!listbox.hidden));
  };
  input.addEventListener('input', () => {
    if (!input.value.trim()) current = null;
    clearTimeout(timer);
    timer = setTimeout(searchNow, 150);
  });
  input.addEventListener('focus', () => { if (!input.value) searchNow(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && listbox.firstChild) { e.preventDefault(); listbox.firstChild.focus(); }
    if (e.key === 'Escape') close();
  });
  wrap.addEventListener('focusout', (e) => { if (!wrap.contains(e.relatedTarget)) setTimeout(close, 100); });
  wrap.readValue = () => current;
  return wrap;
}

// The small form a transition's require: asks for (fields the record lacks) before it fires:
// fire(body) posts the transition with the values and resolves to the error, if any, whose
// field errors are shown beside the fields.
function requireForm(o, name, fields, fire) {
  const widgets = new Map();
  const errors = new Map();
  const form = h('form', { class: 'edit require-form', novalidate: true, 'data-test': `require-${name}` });
  for (const f of fields) {
    const wid = `rq-${name}-${f.name}`;
    const w = widget(f, null, wid);
    const err = h('span', { class: 'field-error', id: `rq-err-${f.name}`, 'aria-live': 'polite' });
    const control = w.matches('input,select,textarea') ? w : w.querySelector('input,select,textarea');
    if (control) control.setAttribute('aria-describedby', err.id);
    widgets.set(f.name, w);
    errors.set(f.name, err);
    form.append(h('div', { class: `field type-${f.type}`, dataset: { field: f.name } },
      h('label', { for: wid, text: `${fieldLabel(f)} *` }), w, err));
  }
  const go = h('button', { type: 'submit', class: 'primary', 'data-test': 'require-submit', text: transitionLabel(o, name) });
  form.append(h('div', { class: 'actions' }, go));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    let bad = null;
    for (const f of fields) {
      const w = widgets.get(f.name);
      errors.get(f.name).textContent = '';
      const problem = w.check ? w.check() : null;
      const v = problem ? null : w.readValue();
      if (problem || v == null || v === '') {
        if (!problem) errors.get(f.name).textContent = t('requiredValue');
        bad = bad || (problem ? problem.input : w.matches('input,select,textarea') ? w : w.querySelector('input,select,textarea'));
      } else body[f.name] = v;
    }
    if (bad) { bad.focus(); return; }
    go.disabled = true;
    const ex = await fire(body);
    go.disabled = false;
    for (const fe of (ex && ex.problem && ex.problem.errors) || []) {
      const err = fe.field && errors.get(fe.field);
      if (err) err.textContent = fe.message;
    }
  });
  return form;
}

// A point: latitude and longitude typed (checked as typed: -90..90, -180..180, both or neither) or
// taken from the browser's location. The message goes to the field's error (the inputs' description);
// el.problem() says what is wrong, for the form to stop a save.
function geoWidget(f, value, id) {
  const num = (x) => (x == null ? '' : String(x));
  const lat = h('input', { id, type: 'number', step: 'any', min: '-90', max: '90', inputmode: 'decimal', 'aria-label': t('latitude'), placeholder: t('latitude'), value: value ? num(value.lat) : '' });
  const lng = h('input', { id: `${id}-lng`, type: 'number', step: 'any', min: '-180', max: '180', inputmode: 'decimal', 'aria-label': t('longitude'), placeholder: t('longitude'), value: value ? num(value.lng) : '' });
  const locate = h('button', { type: 'button', 'data-test': 'geo-locate', text: t('useLocation'), disabled: !navigator.geolocation });
  const el = h('div', { class: 'geo-input', role: 'group', 'aria-label': fieldLabel(f) }, lat, lng, locate);
  const errorSpan = () => { const ref = lat.getAttribute('aria-describedby'); return ref ? document.getElementById(ref) : null; };
  el.problem = () => {
    const bad = (input, limit) => input.validity.badInput || (input.value !== '' && !(Math.abs(Number(input.value)) <= limit));
    if (bad(lat, 90)) return { input: lat, text: t('latitudeRange') };
    if (bad(lng, 180)) return { input: lng, text: t('longitudeRange') };
    if ((lat.value === '') !== (lng.value === '')) return { input: lat.value === '' ? lat : lng, text: t('bothCoordinates') };
    return null;
  };
  const check = () => {
    const problem = el.problem();
    for (const input of [lat, lng]) {
      input.setAttribute('aria-describedby', lat.getAttribute('aria-describedby') || '');
      if (problem && problem.input === input) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    }
    const span = errorSpan();
    if (span) span.textContent = problem ? problem.text : '';
    return problem;
  };
  lat.addEventListener('input', check);
  lng.addEventListener('input', check);
  locate.addEventListener('click', () => {
    locate.disabled = true;
    navigator.geolocation.getCurrentPosition((pos) => {
      lat.value = String(Number(pos.coords.latitude.toFixed(6)));
      lng.value = String(Number(pos.coords.longitude.toFixed(6)));
      locate.disabled = false;
      check();
      el.dispatchEvent(new Event('change', { bubbles: true }));
    }, (e) => {
      locate.disabled = false;
      const span = errorSpan();
      if (span) span.textContent = `${t('noLocation')}${t('colon')}${e.message || e.code}`;
    }, { timeout: 15000, maximumAge: 60000 });
  });
  el.check = check;
  el.readValue = () => (lat.value === '' && lng.value === '' || el.problem() ? null : { lat: Number(lat.value), lng: Number(lng.value) });
  return el;
}

function widget(f, value, id) {
  const type = f.type;
  let el;
  if (isRef(f)) return refPicker(f, value, id);
  if (type === 'geo') return geoWidget(f, value, id);
  if (type === 'enum') {
    el = h('select', { id }, h('option', { value: '', text: '—' }),
      (f.values || []).map((x) => h('option', { value: x.value, text: label(x.label, x.value), selected: x.value === value })));
    el.readValue = () => el.value || null;
  } else if (type === 'multienum') {
    const chosen = new Set(Array.isArray(value) ? value : []);
    el = h('fieldset', { id, class: 'multi' }, (f.values || []).map((x) => h('label', null,
      h('input', { type: 'checkbox', value: x.value, checked: chosen.has(x.value) }), ` ${label(x.label, x.value)}`)));
    el.readValue = () => [...el.querySelectorAll('input:checked')].map((c) => c.value);
  } else if (type === 'bool') {
    el = h('input', { id, type: 'checkbox', checked: !!value });
    el.readValue = () => el.checked;
  } else if (type === 'textarea' || type === 'json') {
    el = h('textarea', { id, rows: 4, value: value == null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value) });
    el.readValue = () => {
      if (type !== 'json') return el.value === '' ? null : el.value;
      try { return el.value === '' ? null : JSON.parse(el.value); } catch (e) { return el.value; }
    };
  } else if (numeric(type)) {
    el = h('input', { id, type: 'number', step: type === 'int' ? '1' : 'any', inputmode: 'decimal', value: value == null ? '' : String(value) });
    el.readValue = () => (el.value === '' ? null : Number(el.value));
  } else if (type === 'date') {
    el = h('input', { id, type: 'date', value: value || '' });
    el.readValue = () => el.value || null;
  } else if (type === 'datetime') {
    el = h('input', { id, type: 'datetime-local', value: value ? toLocalInput(value) : '' });
    el.readValue = () => (el.value ? new Date(el.value).toISOString().replace(/\.\d{3}Z$/, 'Z') : null);
  } else {
    const inputType = { email: 'email', phone: 'tel', url: 'url' }[type] || 'text';
    el = h('input', { id, type: inputType, value: value == null ? '' : String(value), maxlength: f.max_length || null });
    el.readValue = () => (el.value === '' ? null : el.value);
  }
  return el;
}

async function viewForm(view, o, id, params) {
  let record = {};
  let etag = null;
  if (id) ({ data: record, etag } = await api('GET', `/objects/${o.name}/${id}`));
  else for (const f of o.fields) {
    if (params.has(f.name)) record[f.name] = isRef(f) || numeric(f.type) ? Number(params.get(f.name)) : params.get(f.name);
    else if (f.default !== undefined && editable(f)) record[f.name] = f.default;
  }
  const fields = o.fields.filter(editable);
  await resolveRefs(o, [record], fields.map((f) => f.name));
  const banner = h('p', { class: 'error', role: 'alert', 'data-test': 'form-error' });
  const widgets = new Map();
  const errors = new Map();
  const form = h('form', { class: 'edit', novalidate: true });
  for (const f of fields) {
    const wid = `f-${f.name}`;
    const w = widget(f, record[f.name], wid);
    const err = h('span', { class: 'field-error', id: `err-${f.name}`, 'data-error-for': f.name, 'aria-live': 'polite' });
    const control = w.matches('input,select,textarea') ? w : w.querySelector('input,select,textarea');
    if (control) control.setAttribute('aria-describedby', err.id);
    widgets.set(f.name, w);
    errors.set(f.name, err);
    form.append(h('div', { class: `field type-${f.type}`, dataset: { field: f.name } },
      h('label', { for: wid, text: `${fieldLabel(f)}${f.required ? ' *' : ''}` }), w, err));
  }
  const save = h('button', { type: 'submit', class: 'primary', 'data-test': 'save', text: t('save') });
  form.append(h('div', { class: 'actions' }, save,
    h('a', { class: 'button', href: id ? `#/o/${o.name}/${id}` : `#/o/${o.name}`, text: t('cancel') })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    banner.textContent = '';
    for (const [name, err] of errors) {
      err.textContent = '';
      const w = widgets.get(name);
      (w.matches('input,select,textarea') ? w : w.querySelector('input') || w).removeAttribute('aria-invalid');
    }
    // a value the browser could not read (a date typed as 13/45/20255, text in a number) is
    // shown as an error on its field and never dropped silently or sent changed
    const unreadable = fields.filter((f) => {
      const w = widgets.get(f.name);
      const c = w.matches('input') ? w : w.querySelector('input');
      return c && c.validity && c.validity.badInput && !w.problem;
    });
    // a widget that checks itself (a point): its own message, on the input that is wrong
    const wrong = fields.map((f) => [f, widgets.get(f.name).check ? widgets.get(f.name).check() : null]).filter(([, x]) => x);
    if (wrong.length && !unreadable.length) {
      banner.textContent = t('fixErrors');
      wrong[0][1].input.focus();
      return;
    }
    if (unreadable.length) {
      for (const f of unreadable) {
        errors.get(f.name).textContent = t('invalidInput');
        const w = widgets.get(f.name);
        (w.matches('input') ? w : w.querySelector('input')).setAttribute('aria-invalid', 'true');
      }
      banner.textContent = t('fixErrors');
      const w = widgets.get(unreadable[0].name);
      (w.matches('input') ? w : w.querySelector('input')).focus();
      return;
    }
    const body = {};
    for (const f of fields) {
      const w = widgets.get(f.name);
      const v = w.readValue();
      if (id) {
        if (JSON.stringify(v ?? null) !== JSON.stringify(record[f.name] ?? null)) body[f.name] = v;
      } else if (v !== null && !(Array.isArray(v) && !v.length)) body[f.name] = v;
    }
    save.disabled = true;
    try {
      const res = id
        ? await api('PATCH', `/objects/${o.name}/${id}`, { body, headers: { 'If-Match': etag } })
        : await api('POST', `/objects/${o.name}`, { body });
      toast(t('saved'));
      go(`#/o/${o.name}/${res.data.id}`);
    } catch (ex) {
      const list = (ex.problem && ex.problem.errors) || [];
      let first = null;
      const rest = [];
      for (const fe of list) {
        // a rule's message in this language (metadata rules carry message_label)
        const rule = fe.code === 'rule' && (o.rules || []).find((x) => x.message === fe.message && x.message_label);
        const text = rule ? label(rule.message_label, fe.message) : fe.message;
        const err = fe.field && errors.get(fe.field);
        if (!err) { rest.push(text); continue; }
        err.textContent = err.textContent ? `${err.textContent}; ${text}` : text;
        const w = widgets.get(fe.field);
        const control = w.matches('input,select,textarea') ? w : w.querySelector('input,select,textarea');
        if (control) { control.setAttribute('aria-invalid', 'true'); first = first || control; }
      }
      if (ex.status === 412 && ex.problem && ex.problem.current) {
        // someone saved first: say who and when, and offer their values beside the user's edits
        const p = ex.problem;
        const when = p.changed_at ? formatValue({ type: 'datetime', name: 'changed_at' }, p.changed_at) : '';
        clear(banner).append(document.createTextNode(
          t('conflict').replace('{who}', p.changed_by_name || t('someone')).replace('{when}', when)), ' ',
          h('button', { type: 'button', 'data-test': 'reload-keep', text: t('reloadKeep'), on: { click: () => {
            record = p.current;
            etag = `"${p.current_version}"`;
            for (const f of fields) {
              const err = errors.get(f.name);
              const mine = widgets.get(f.name).readValue();
              if (JSON.stringify(p.current[f.name] ?? null) !== JSON.stringify(mine ?? null)) {
                err.textContent = `${t('nowValue')}: ${formatValue(f, p.current[f.name], p.current) || '—'}`;
              }
            }
            banner.textContent = '';
          } } }));
        return;
      }
      banner.textContent = list.length ? [t('fixErrors'), ...rest].join(' — ') : ex.message;
      if (first) first.focus();
    } finally {
      save.disabled = false;
    }
  });
  view.append(h('div', { class: 'title' }, h('div', null,
    h('p', { class: 'crumb' }, h('a', { href: `#/o/${o.name}`, text: objectLabel(o) })),
    h('h1', { text: id ? `${t('edit')}: ${recordTitle(o, record)}` : `${t('new')} ${objectLabel(o)}` }))), banner, form);
}

// The transition that moves rec's field to value: from the record's _transitions (names or
// {name, to}) and, for bare names, the workflow's definition when /meta carries one. null when
// none is known: the board then PATCHes the field and the server decides (and says why not).
function transitionTo(o, gf, rec, value) {
  const available = Array.isArray(rec._transitions) ? rec._transitions : [];
  const defs = [];
  for (const wf of (state.meta && state.meta.workflows) || [])
    if (wf.object === o.name && (!wf.field || wf.field === gf.name)) defs.push(...(wf.transitions || []));
  for (const wf of o.workflows || [])
    if (!wf.field || wf.field === gf.name) defs.push(...(wf.transitions || []));
  for (const tr of available) {
    const name = typeof tr === 'string' ? tr : tr && tr.name;
    const to = typeof tr === 'object' && tr ? tr.to || tr.target : (defs.find((d) => d.name === name) || {}).to;
    if (name && to === value) return name;
  }
  // list records carry no _transitions: take the defined one leaving the card's state for value
  // (the server still checks roles, required fields and guards, and says why it refuses)
  const from = rec[gf.name];
  const def = defs.find((d) => d.to === value && (d.from_any || (d.from || []).includes(from)));
  return def ? def.name : null;
}

// ---- kanban --------------------------------------------------------------------------------------
async function viewKanban(view, o) {
  const kb = kanbanOf(o);
  const gf = fieldOf(o, kb.group_by);
  const sumf = kb.sum ? fieldOf(o, kb.sum) : null;
  const cardSpec = kb.card || {};
  const cardTitle = cardSpec.title && fieldOf(o, cardSpec.title) ? cardSpec.title : titleField(o);
  const alert = h('p', { class: 'error', role: 'alert', 'data-test': 'board-alert' });
  const board = h('div', { class: 'board', 'data-test': 'board' });
  let totals = new Map();
  try {
    const { data } = await api('GET', `/reports/${o.name}`, { query: { group: gf.name, measures: sumf ? `count,sum(${sumf.name})` : 'count' } });
    totals = new Map(data.rows.map((row) => [row[gf.name], row]));
  } catch (e) { /* totals are a nicety */ }
  const columns = new Map();

  const card = (r, column) => {
    const moveSel = h('select', { 'aria-label': `${t('moveTo')}…`, class: 'move' },
      h('option', { value: '', text: `${t('moveTo')}…` }),
      (gf.values || []).filter((x) => x.value !== r[gf.name]).map((x) => h('option', { value: x.value, text: label(x.label, x.value) })));
    // views.kanban.card: { title, subtitle, fields } (checked by crm check); else the title and the sum
    const shown = (name) => { const f = fieldOf(o, name); return f && r[name] != null ? formatValue(f, r[name], r) : null; };
    const subtitle = cardSpec.subtitle ? shown(cardSpec.subtitle) : null;
    const lines = (cardSpec.fields || []).map((name) => {
      const f = fieldOf(o, name);
      const value = shown(name);
      return f && value != null ? h('span', { class: 'card-field', text: `${fieldLabel(f)}: ${value}` }) : null;
    });
    const el = h('li', { class: 'card', draggable: 'true', tabindex: '0', dataset: { id: r.id, value: r[gf.name] } },
      h('a', { href: `#/o/${o.name}/${r.id}`, text: r[cardTitle] == null ? `#${r.id}` : String(shown(cardTitle) ?? r[cardTitle]) }),
      subtitle != null ? h('span', { class: 'card-subtitle', text: subtitle }) : null,
      ...lines,
      !cardSpec.fields && sumf && r[sumf.name] != null ? h('span', { class: 'num', text: formatValue(sumf, r[sumf.name], r) }) : null,
      moveSel);
    moveSel.addEventListener('change', () => { if (moveSel.value) move(el, columns.get(moveSel.value)); });
    el.addEventListener('dragstart', (e) => {
      e.dataTransfer.setData('text/plain', String(r.id));
      e.dataTransfer.effectAllowed = 'move';
      board.dataset.dragging = String(r.id);
      el.classList.add('dragging');
    });
    el.addEventListener('dragend', () => el.classList.remove('dragging'));
    return el;
  };

  async function move(el, to) {
    const from = columns.get(el.dataset.value);
    if (!to || to === from) return;
    const anchor = el.nextSibling;
    to.list.prepend(el);
    el.classList.add('pending');
    alert.textContent = '';
    const id = el.dataset.id;
    try {
      const { data: rec, etag } = await api('GET', `/objects/${o.name}/${id}`);
      const tr = transitionTo(o, gf, rec, to.value);
      let res;
      if (tr) res = await api('POST', `/objects/${o.name}/${id}/transitions/${encodeURIComponent(tr)}`, { body: {}, headers: { 'If-Match': etag } });
      else await api('PATCH', `/objects/${o.name}/${id}`, { body: { [gf.name]: to.value }, headers: { 'If-Match': etag } });
      if (res && res.data && res.data.status === 'pending_approval') {
        // the record stays where it is until the approvers decide
        if (anchor && anchor.parentNode === from.list) from.list.insertBefore(el, anchor);
        else from.list.append(el);
        el.classList.remove('pending');
        el.querySelector('select.move').value = '';
        alert.textContent = `${t('pending')}: ${transitionLabel(o, tr)}`;
        return;
      }
      el.dataset.value = to.value;
      el.classList.remove('pending');
      const sel = el.querySelector('select.move');
      for (const opt of sel.options) opt.hidden = opt.value === to.value;
      sel.value = '';
      toast(`${t('moved')}: ${enumLabel(gf, to.value)}`);
    } catch (e) {
      // snap back to where the card was, and say why
      if (anchor && anchor.parentNode === from.list) from.list.insertBefore(el, anchor);
      else from.list.append(el);
      el.classList.remove('pending');
      el.classList.add('refused');
      setTimeout(() => el.classList.remove('refused'), 1500);
      el.querySelector('select.move').value = '';
      alert.textContent = `${t('refused')}: ${e.message}`;
    }
  }

  for (const v of gf.values || []) {
    const list = h('ul', { class: 'cards', 'aria-label': label(v.label, v.value) });
    const more = h('button', { type: 'button', class: 'more', text: t('more') });
    const tot = totals.get(v.value);
    const col = { value: v.value, list, cursor: null };
    const section = h('section', { class: 'column', dataset: { value: v.value } },
      h('h2', null, label(v.label, v.value), h('span', { class: 'count', text: tot ? ` ${tot.count}` : '' }),
        sumf && tot ? h('span', { class: 'sum', text: formatMeasure(sumf, tot[`sum_${sumf.name}`]) }) : null),
      list, more);
    col.section = section;
    columns.set(v.value, col);
    col.load = async () => {
      more.disabled = true;
      try {
        const { data } = await api('GET', `/objects/${o.name}`, { query: { filter: `${gf.name} = ${quote(v.value)}`, limit: COLUMN_PAGE, after: col.cursor, sort: '-updated_at' } });
        // the names of the refs a card shows (its subtitle and fields)
        await resolveRefs(o, data.records, [cardSpec.title, cardSpec.subtitle, ...(cardSpec.fields || [])].filter(Boolean));
        for (const r of data.records) list.append(card(r, col));
        col.cursor = data.next;
        more.hidden = !data.next;
      } catch (e) {
        alert.textContent = e.message;
      } finally {
        more.disabled = false;
      }
    };
    more.addEventListener('click', col.load);
    section.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; section.classList.add('over'); });
    section.addEventListener('dragleave', () => section.classList.remove('over'));
    section.addEventListener('drop', (e) => {
      e.preventDefault();
      section.classList.remove('over');
      const cid = e.dataTransfer.getData('text/plain') || board.dataset.dragging;
      const el = board.querySelector(`li.card[data-id="${CSS.escape(cid)}"]`);
      if (el) move(el, col);
    });
    board.append(section);
  }
  await Promise.all([...columns.values()].map((c) => c.load()));
  view.append(h('div', { class: 'title' }, h('h1', { text: `${objectLabel(o)} · ${t('board')}` }),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: `#/o/${o.name}`, text: t('list') }))), alert, board);
}

// ---- dashboard: the charts each object defines under views.charts (YAML), else derived ones -------
// An axis label short enough to stay inside the chart when slanted (a CJK character is two units
// wide); the bar's tooltip keeps the whole label
function axisLabel(text, units = 15) {
  let used = 0;
  let out = '';
  for (const ch of String(text)) {
    used += /[\u2E80-\uFFEF]/.test(ch) ? 2 : 1;
    if (used > units) return `${out.trimEnd()}…`;
    out += ch;
  }
  return out;
}
function barChart(title, rows, format) {
  const W = 560, H = 272, left = 34, bottom = 72, top = 24;   // room below for a slanted 15-unit label
  const max = Math.max(0, ...rows.map((r) => r.value)) || 1;
  const bw = (W - left * 2) / Math.max(rows.length, 1);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'chart' }, s('title', null, title));
  rows.forEach((r, i) => {
    const bh = Math.round(((H - bottom - top) * r.value) / max);
    const x = left + i * bw + bw * 0.15;
    const y = H - bottom - bh;
    svg.append(
      s('rect', { x: x.toFixed(1), y, width: (bw * 0.7).toFixed(1), height: Math.max(bh, 0), class: 'bar' }, s('title', null, `${r.label}: ${format(r.value)}`)),
      s('text', { x: (x + bw * 0.35).toFixed(1), y: y - 6, 'text-anchor': 'middle', class: bw < 50 ? 'value narrow' : 'value' }, format(r.value)),
      s('text', { x: (x + bw * 0.35).toFixed(1), y: H - bottom + 16, 'text-anchor': 'end', transform: `rotate(-30 ${(x + bw * 0.35).toFixed(1)} ${H - bottom + 16})`, class: 'axis' }, axisLabel(r.label)));
  });
  svg.append(s('line', { x1: left, x2: W - left, y1: H - bottom, y2: H - bottom, class: 'baseline' }));
  return svg;
}

// A chart defined in YAML: { title, group, measure: count | sum(f) | avg(f)..., filter, by: month |
// year | day (date groups), type: bar }. One GET /reports/{object}; enum groups keep their value
// order and labels, refs show the target's names, dates are bucketed by `by`.
const chartsOf = (o) => (o.views && Array.isArray(o.views.charts) ? o.views.charts.filter((c) => c && fieldOf(o, c.group)) : []);
const measureKey = (m) => (!m || m === 'count' ? 'count' : m.replace(/^(\w+)\((\w+)\)$/, '$1_$2'));
async function definedChart(o, c, i) {
  const gf = fieldOf(o, c.group);
  const measure = c.measure || 'count';
  const key = measureKey(measure);
  const title = label(c.title, `${objectLabel(o)}: ${measure} ${t('by_')} ${fieldLabel(gf)}`);
  const card = h('section', { class: 'chart-card', dataset: { chart: `${o.name}-${i}`, chartTitle: label(c.title, '') || title } });
  const list = hashWith(`/o/${o.name}`, { filter: c.filter || '' });
  card.append(h('h2', null, h('a', { href: kanbanOf(o) && kanbanOf(o).group_by === gf.name && !c.filter ? `#/k/${o.name}` : list, text: title })));
  try {
    const { data } = await api('GET', `/reports/${o.name}`, { query: { group: gf.name, measure, filter: c.filter || '' } });
    let rows;
    if (valueType(gf) === 'enum') {
      const byValue = new Map(data.rows.map((r) => [r[gf.name], r[key] || 0]));
      rows = (gf.values || []).map((v) => ({ label: label(v.label, v.value), value: byValue.get(v.value) || 0 }));
    } else {
      const cut = { year: 4, month: 7, day: 10 }[c.by] || 0;
      const buckets = new Map();
      for (const r of data.rows) {
        let k = r[gf.name];
        if (k == null || k === '') continue;
        if (cut) k = String(k).slice(0, cut);
        buckets.set(k, (buckets.get(k) || 0) + (r[key] || 0));
      }
      let entries = [...buckets].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      if (cut) entries = entries.slice(-12);
      else entries = entries.sort((a, b) => b[1] - a[1]).slice(0, 12);
      if (isRef(gf)) await resolveRefs(o, entries.map(([k]) => ({ [gf.name]: k })), [gf.name]);
      rows = entries.map(([k, v]) => ({ label: cut ? String(k) : formatValue(gf, k), value: v }));
    }
    const measured = /^\w+\((\w+)\)$/.test(measure) ? fieldOf(o, measure.replace(/^\w+\((\w+)\)$/, '$1')) : null;
    card.append(rows.length ? barChart(title, rows, (v) => formatMeasure(measured, v, true)) : h('p', { class: 'empty', text: t('noChart') }));
  } catch (e) {
    card.append(h('p', { class: 'error', text: e.message }));
  }
  return card;
}

// The caller's queue: approvals waiting for them and unread notifications (when those objects exist).
async function viewInbox() {
  const ao = objectOf(APPROVAL);
  const no = objectOf(NOTIFICATION);
  if (!ao && !no) return null;
  const me = state.user && state.user.id;
  if (me == null) return null;
  const [approvals, notes] = await Promise.all([
    ao ? api('GET', `/objects/${APPROVAL}`, { query: { filter: `approver = ${Number(me)} and status = 'pending'`, limit: 10, sort: '-created_at' } }).then((x) => x.data.records, () => []) : [],
    no ? api('GET', `/objects/${NOTIFICATION}`, { query: { filter: `user = ${Number(me)} and read = false`, limit: 10, sort: '-created_at' } }).then((x) => x.data.records, () => []) : [],
  ]);
  const box = h('section', { class: 'inbox', 'data-test': 'inbox' });
  if (ao) box.append(h('div', { class: 'inbox-part', 'data-test': 'my-approvals' }, h('h2', { text: `${t('myApprovals')} · ${approvals.length}` }),
    approvals.length ? h('ul', null, approvals.map((a) => h('li', null,
      h('a', { href: `#/o/${APPROVAL}/${a.id}`, text: `${label((objectOf(a.object_name) || {}).label, a.object_name)} #${a.record_id}: ${prettify(String(a.transition || ''))}` }))))
      : h('p', { class: 'empty', text: t('nothing') })));
  if (no) box.append(h('div', { class: 'inbox-part', 'data-test': 'notifications' }, h('h2', { text: `${t('notifications')} · ${notes.length}` }),
    notes.length ? h('ul', null, notes.map((n) => {
      const item = h('li', null, objectOf(n.object_name) && n.record_id != null
        ? h('a', { href: `#/o/${n.object_name}/${n.record_id}`, text: String(n.title) }) : h('span', { text: String(n.title) }));
      if (no.can && no.can.update) item.append(' ', h('button', { type: 'button', class: 'link', text: t('markRead'), on: { click: async () => {
        try {
          const { etag } = await api('GET', `/objects/${NOTIFICATION}/${n.id}`);
          await api('PATCH', `/objects/${NOTIFICATION}/${n.id}`, { body: { read: true }, headers: { 'If-Match': etag } });
          item.remove();
        } catch (e) { toast(e.message, 'error'); }
      } } }));
      return item;
    })) : h('p', { class: 'empty', text: t('nothing') })));
  return box;
}

// ---- composer ------------------------------------------------------------------------------------
// views.composer: { object, ref, fields }: a quick form on a record's page that creates a child
// linked to it (log a call, add a task or a note); the related list shows it at once.
function composerFor(o, id) {
  const spec = o.views && o.views.composer;
  const child = spec && objectOf(spec.object);
  if (!child || !(child.can && child.can.create) || !fieldOf(child, spec.ref)) return null;
  const fields = (spec.fields || []).map((n) => fieldOf(child, n)).filter((f) => f && editable(f));
  const widgets = new Map(fields.map((f) => [f.name, widget(f, f.default !== undefined ? f.default : null, `c-${f.name}`)]));
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'composer', 'data-test': 'composer', on: { submit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    const body = { [spec.ref]: Number(id) };
    for (const [name, w] of widgets) { const v = w.readValue(); if (v !== null && v !== '') body[name] = v; }
    try {
      await api('POST', `/objects/${child.name}`, { body });
      toast(t('saved'));
      render();
    } catch (ex) { err.textContent = ex.message; }
  } } },
  h('h2', { text: `${t('composer')}: ${objectLabel(child)}` }),
  h('div', { class: 'composer-fields' }, fields.map((f) => h('div', { class: 'field' },
    h('label', { for: `c-${f.name}`, text: fieldLabel(f) }), widgets.get(f.name)))),
  h('button', { type: 'submit', class: 'primary', 'data-test': 'composer-add', text: t('add') }), err);
  return form;
}

// ---- line items (views.lines) -----------------------------------------------------------------------
// views.lines: { object, ref, fields, order }: a record's child lines (a quote's) edited as a grid on
// its page, one row a line, one input a field (the form's widgets). Added, changed, moved and removed
// lines stay in the page until Save sends them all in one POST /batch: one transaction, so a refused
// line saves nothing, its errors show in its cells and every edit stays. Then the lines and the record
// (its rollups) are read again.
function linesOf(o) {
  const spec = o && o.views && o.views.lines;
  const child = spec && objectOf(spec.object);
  return child && fieldOf(child, spec.ref) ? { ...spec, child } : null;
}
const sameValue = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const controlOf = (w) => (w.matches('input,select,textarea,fieldset') ? w : w.querySelector('input,select,textarea'));
const fill = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));

async function linesGrid(o, parent, spec, reread) {
  const { child } = spec;
  // a line's money reads in the parent's currency when it has none of its own
  const columns = (spec.fields || []).map((n) => fieldOf(child, n)).filter(Boolean).map((f) => inCurrencyOf(f, o, parent));
  const order = spec.order && fieldOf(child, spec.order) ? spec.order : null;
  const live = !parent.deleted_at;
  const can = { create: live && !!(child.can && child.can.create), update: live && !!(child.can && child.can.update),
    delete: live && !!(child.can && child.can.delete) };
  const editing = can.create || can.update || can.delete;
  const movable = !!order && can.update;
  const writable = (f, row) => editable(f) && f.name !== order && (row.isNew ? can.create : can.update);
  // the totals under the grid (read again after a save): the record's sums over these lines and the
  // formulas that read them, one through another (a subtotal, its tax, the grand total)
  const summed = new Set(o.fields.filter((f) => f.type === 'rollup' && f.rollup && f.rollup.of === `${child.name}.${spec.ref}`
    && f.rollup.measure === 'sum').map((f) => f.name));
  for (let grew = true; grew;) {
    grew = false;
    for (const f of o.fields) {
      if (f.type !== 'formula' || summed.has(f.name) || !f.formula) continue;
      if ([...summed].some((n) => new RegExp(`\\b${n}\\b`).test(f.formula))) { summed.add(f.name); grew = true; }
    }
  }
  const totals = o.fields.filter((f) => summed.has(f.name));

  const titleId = `lines-${child.name}`;
  const heading = h('h2', { id: titleId });
  const banner = h('div', { class: 'error', role: 'alert', 'data-test': 'lines-error' });
  const status = h('p', { class: 'lines-status', role: 'status', 'data-test': 'lines-status' });
  const body = h('tbody');
  const empty = h('p', { class: 'empty', text: t('noLines') });
  const table = h('table', { class: 'lines-grid', 'aria-labelledby': titleId, 'data-test': 'lines-grid' },
    h('thead', null, h('tr', null, h('th', { scope: 'col', class: 'line-no', text: t('lineNo') }),
      // an amount typed into a cell is in the currency the header names (the parent's)
      columns.map((f) => h('th', { scope: 'col', class: numeric(valueType(f)) ? 'num' : null,
        text: `${fieldLabel(f)}${editable(f) && valueType(f) === 'money' && currencyOf(f, parent) ? ` (${currencyOf(f, parent)})` : ''}${f.required && editable(f) ? ' *' : ''}` })),
      editing ? h('th', { scope: 'col', class: 'row-actions' }, h('span', { class: 'visually-hidden', text: t('lineActions') })) : null)),
    body);
  const addButton = h('button', { type: 'button', 'data-test': 'lines-add', text: `+ ${t('addLine')}` });
  const saveButton = h('button', { type: 'button', class: 'primary', 'data-test': 'lines-save', text: t('saveLines') });
  const discardButton = h('button', { type: 'button', 'data-test': 'lines-discard', text: t('discardLines') });
  const totalsBox = h('dl', { class: 'lines-totals', 'data-test': 'lines-totals' });
  const section = h('section', { class: 'lines', 'data-lines': child.name, 'data-test': 'lines', 'aria-labelledby': titleId },
    h('div', { class: 'title' }, heading, movable ? h('p', { class: 'hint', text: t('moveHint') }) : null),
    banner, table, empty, totalsBox,
    editing ? h('div', { class: 'lines-footer' },
      h('div', { class: 'actions' }, can.create ? addButton : null),
      h('div', { class: 'actions' }, status, discardButton, saveButton)) : null);

  let rows = [];       // in the order shown: { key, isNew, record, base, removed, loadedAt, tr, widgets, errors, texts, ... }
  let seq = 0;
  let saving = false;

  function showTotals(record) {
    clear(totalsBox);
    for (const f of totals) totalsBox.append(h('div', null, h('dt', { text: fieldLabel(f) }),
      h('dd', { 'data-total': f.name }, valueNode(f, record[f.name], record))));
  }

  // a line's values that differ from those saved (a new line: from its defaults)
  function changes(row) {
    const out = {};
    for (const [name, w] of row.widgets) {
      const v = w.readValue();
      if (!sameValue(v, row.base[name])) out[name] = v;
    }
    return out;
  }
  const touched = (row) => Object.keys(changes(row)).length > 0;
  // the lines that will exist after a save, in order (a new line nobody typed in is not saved)
  const kept = () => rows.filter((r) => !r.removed && (!r.isNew || touched(r)));
  // the order values to write: 1, 2, 3... once the user moved lines (or put a new one before saved ones),
  // else the saved lines keep theirs and new ones follow the last; only values that change are sent
  function orderPlan() {
    const plan = new Map();
    if (!order) return plan;
    const lines = kept();
    let last = -1, sawNew = false, moved = false;
    for (const r of lines) {
      if (r.isNew) sawNew = true;
      else if (sawNew || r.loadedAt < last) moved = true;
      else last = r.loadedAt;
    }
    if (moved) lines.forEach((r, i) => plan.set(r, i + 1));
    else {
      let top = Math.max(0, ...lines.filter((r) => !r.isNew).map((r) => Number(r.record[order]) || 0));
      for (const r of lines) if (r.isNew) plan.set(r, ++top);
    }
    for (const [r, v] of plan) if (!r.isNew && r.record[order] === v) plan.delete(r);
    return plan;
  }
  const dirty = () => !saving && (rows.some((r) => (r.removed && !r.isNew) || (!r.removed && touched(r))) || orderPlan().size > 0);

  function clearErrors(row) {
    row.tr.classList.remove('invalid');
    for (const [name, err] of row.errors) {
      err.textContent = '';
      const w = row.widgets.get(name);
      if (w) controlOf(w).removeAttribute('aria-invalid');
    }
  }
  function cellError(row, name, text, invalid = true) {
    const err = row.errors.get(name);
    if (!err) return null;
    err.textContent = err.textContent ? `${err.textContent}; ${text}` : text;
    const w = row.widgets.get(name);
    if (!invalid || !w) return null;
    row.tr.classList.add('invalid');
    const control = controlOf(w);
    control.setAttribute('aria-invalid', 'true');
    return control;
  }
  const lineName = (row) => fill(t('lineN'), { n: rows.indexOf(row) + 1 });

  // a cell's input: the form's widget for the field, labelled by its column, described by its error
  function cellWidget(row, f, value) {
    const w = widget(f, value, `ln-${row.key}-${f.name}`);
    const control = controlOf(w);
    control.setAttribute('aria-label', fieldLabel(f));
    control.setAttribute('aria-describedby', row.errors.get(f.name).id);
    if (f.required) control.setAttribute('aria-required', 'true');
    if (w.matches('textarea')) w.rows = 1;
    row.widgets.set(f.name, w);
    return w;
  }

  function makeRow(record, isNew, loadedAt) {
    const key = `l${++seq}`;
    const row = { key, isNew, record, base: {}, removed: false, loadedAt, widgets: new Map(), errors: new Map(), texts: new Map() };
    const tr = h('tr', { dataset: { line: key, id: record.id } });
    row.tr = tr;
    row.number = h('span', { class: 'line-number' });
    row.state = h('span', { class: 'line-state' });
    tr.append(h('td', { class: 'line-no', 'data-label': t('lineNo') }, row.number, row.state));
    for (const f of columns) {
      const err = h('span', { class: 'field-error', id: `lerr-${key}-${f.name}`, 'aria-live': 'polite' });
      row.errors.set(f.name, err);
      let content;
      if (writable(f, row)) {
        const start = isNew ? (f.default !== undefined ? f.default : null) : record[f.name];
        row.base[f.name] = start;
        content = cellWidget(row, f, start);
      } else {
        content = h('span', { class: 'cell-text' }, valueNode(f, record[f.name], record));
        row.texts.set(f.name, content);
      }
      tr.append(h('td', { 'data-label': fieldLabel(f), dataset: { field: f.name }, class: numeric(valueType(f)) ? 'num' : null },
        h('div', { class: 'cell' }, content, err)));
    }
    if (editing) {
      row.up = movable ? h('button', { type: 'button', class: 'icon', 'data-test': 'line-up', text: '↑', on: { click: () => move(row, -1, row.up) } }) : null;
      row.down = movable ? h('button', { type: 'button', class: 'icon', 'data-test': 'line-down', text: '↓', on: { click: () => move(row, 1, row.down) } }) : null;
      row.remove = (isNew ? can.create : can.delete)
        ? h('button', { type: 'button', class: 'icon danger', 'data-test': 'line-remove', text: '✕', on: { click: () => toggleRemove(row) } }) : null;
      tr.append(h('td', { class: 'row-actions' }, h('div', { class: 'row-buttons', role: 'group' }, row.up, row.down, row.remove)));
    }
    return row;
  }

  // the numbers, the per-line state, which buttons apply, and whether there is anything to save
  function refresh() {
    rows.forEach((row, i) => {
      const name = fill(t('lineN'), { n: i + 1 });
      row.number.textContent = String(i + 1);
      const changed = !row.isNew && !row.removed && touched(row);
      const stateKey = row.removed ? 'lineRemoved' : row.isNew ? 'lineNew' : changed ? 'lineChanged' : null;
      row.state.textContent = stateKey ? t(stateKey) : '';
      row.tr.classList.toggle('new', row.isNew);
      row.tr.classList.toggle('changed', changed);
      row.tr.classList.toggle('removed', row.removed);
      row.tr.querySelector('.row-buttons')?.setAttribute('aria-label', `${t('lineActions')}: ${name}`);
      if (row.up) { row.up.disabled = i === 0; row.up.setAttribute('aria-label', `${t('moveUp')}: ${name}`); row.up.title = t('moveUp'); }
      if (row.down) { row.down.disabled = i === rows.length - 1; row.down.setAttribute('aria-label', `${t('moveDown')}: ${name}`); row.down.title = t('moveDown'); }
      if (row.remove) {
        const label = row.removed ? t('undoRemove') : t('removeLine');
        row.remove.textContent = row.removed ? '↺' : '✕';
        row.remove.setAttribute('aria-label', `${label}: ${name}`);
        row.remove.title = label;
      }
    });
    const live = rows.filter((r) => !r.removed).length;
    heading.textContent = `${objectPlural(child)} · ${live}`;
    empty.hidden = rows.length > 0;
    table.hidden = rows.length === 0;
    const unsaved = dirty();
    saveButton.disabled = saving;
    discardButton.disabled = saving || !unsaved;
    if (!saving) status.textContent = unsaved ? t('unsaved') : '';
  }

  function move(row, step, keepFocus) {
    const from = rows.indexOf(row);
    const to = from + step;
    if (to < 0 || to >= rows.length) return;
    rows.splice(from, 1);
    rows.splice(to, 0, row);
    body.insertBefore(row.tr, step < 0 ? rows[to + 1].tr : rows[to - 1].tr.nextSibling);
    refresh();
    status.textContent = fill(t('movedTo'), { n: to + 1 });
    // moving the row took the focus with it: give it back (the other arrow when this one is now disabled)
    const target = keepFocus && keepFocus.disabled ? (step < 0 ? row.down : row.up) : keepFocus;
    if (target) target.focus();
  }

  // a line marked for removal keeps its values, struck through and not editable
  const lockInputs = (row) => {
    for (const w of row.widgets.values()) for (const c of [w, ...w.querySelectorAll('input,select,textarea')]) if (c.matches('input,select,textarea')) c.disabled = row.removed;
  };

  function toggleRemove(row) {
    if (row.isNew) {
      const at = rows.indexOf(row);
      rows.splice(at, 1);
      row.tr.remove();
      refresh();
      const next = rows[Math.min(at, rows.length - 1)];
      (next ? next.remove || next.tr.querySelector('input,select,button') : addButton).focus();
      return;
    }
    row.removed = !row.removed;
    clearErrors(row);
    lockInputs(row);
    refresh();
    row.remove.focus();
  }

  function addLine() {
    const row = makeRow({}, true, Infinity);
    rows.push(row);
    body.append(row.tr);
    refresh();
    const first = row.tr.querySelector('input,select,textarea');
    if (first) first.focus();
  }

  async function load() {
    const records = [];
    let after = null;
    do {
      const { data } = await api('GET', `/objects/${child.name}`, { query: {
        filter: `${spec.ref} = ${Number(parent.id)}`, sort: order ? `${order},id` : 'id', limit: 500, after } });
      records.push(...data.records);
      after = data.next;
    } while (after && records.length < 1000);
    await resolveRefs(child, records, columns.map((f) => f.name));
    rows = records.map((record, i) => makeRow(record, false, i));
    clear(body).append(...rows.map((r) => r.tr));
    banner.textContent = '';
    refresh();
  }

  // a line someone else saved after this page read it: say who and when, offer their values beside the user's
  async function conflict(row) {
    let current = null;
    try { ({ data: current } = await api('GET', `/objects/${child.name}/${row.record.id}`)); } catch (e) { return false; }
    const who = { fields: [{ name: 'updated_by', type: 'user', to: 'user' }] };
    await resolveRefs(who, [current], ['updated_by']).catch(() => {});
    const when = formatValue({ type: 'datetime', name: 'updated_at' }, current.updated_at);
    clear(banner).append(document.createTextNode(`${t('notSaved')}${t('colon')}${fill(t('lineConflict'), {
      who: state.names.get(`user:${current.updated_by}`) || t('someone'), n: rows.indexOf(row) + 1, when })}`), ' ',
    h('button', { type: 'button', 'data-test': 'lines-reload-keep', text: t('reloadKeepLines'), on: { click: () => {
      clearErrors(row);
      for (const f of columns) {
        const text = row.texts.get(f.name);
        const w = row.widgets.get(f.name);
        if (text) clear(text).append(valueNode(f, current[f.name], current));
        if (!w) continue;
        const mine = w.readValue();
        // a cell the user did not touch takes their value; an edited one stays, with theirs beside it
        if (sameValue(mine, row.base[f.name])) w.replaceWith(cellWidget(row, f, current[f.name]));
        else if (!sameValue(mine, current[f.name])) cellError(row, f.name, `${t('nowValue')}: ${formatValue(f, current[f.name], current) || '—'}`, false);
        row.base[f.name] = current[f.name];
      }
      row.record = current;
      lockInputs(row);
      banner.textContent = '';
      refresh();
    } } }));
    return true;
  }

  // the server's answer to a refused batch: the failing operation's field errors in their cells
  async function refused(e, owners) {
    const p = e.problem || {};
    const row = Number.isInteger(p.failed) ? owners[p.failed] : null;
    const result = row && Array.isArray(p.results) ? p.results[p.failed] : null;
    if (row && e.status === 412 && !row.isNew && await conflict(row)) return;
    const list = (result && Array.isArray(result.errors) ? result.errors : p.errors) || [];
    const rest = [];
    let first = null;
    for (const fe of list) {
      // a rule's message in this language (metadata rules carry message_label)
      const rule = fe.code === 'rule' && (child.rules || []).find((x) => x.message === fe.message && x.message_label);
      const text = rule ? label(rule.message_label, fe.message) : fe.message;
      const control = row && fe.field && row.widgets.has(fe.field) ? cellError(row, fe.field, text) : null;
      if (control) first = first || control;
      else rest.push(fe.field && fieldOf(child, fe.field) ? `${fieldLabel(fieldOf(child, fe.field))}${t('colon')}${text}` : text);
    }
    if (!list.length) rest.push(result && result.message ? result.message : e.message);
    if (row) row.tr.classList.add('invalid');
    banner.textContent = [`${t('notSaved')}${row ? ` — ${lineName(row)}` : ''}`, list.length && first ? t('fixErrors') : null, ...rest]
      .filter(Boolean).join(t('colon'));
    if (first) first.focus();
  }

  async function save() {
    banner.textContent = '';
    for (const row of rows) clearErrors(row);
    // a value the browser could not read (text in a number) is an error in its cell, never sent changed
    let first = null;
    for (const row of rows) {
      if (row.removed) continue;
      for (const [name, w] of row.widgets) {
        const c = controlOf(w);
        if (c && c.validity && c.validity.badInput) first = first || cellError(row, name, t('invalidInput'));
      }
    }
    if (first) { banner.textContent = `${t('notSaved')}${t('colon')}${t('fixErrors')}`; first.focus(); return; }
    const operations = [];
    const owners = [];   // the line each operation is for: errors come back by operation index
    for (const row of rows) if (row.removed && !row.isNew) {
      operations.push({ op: 'delete', object: child.name, id: row.record.id, version: row.record.version });
      owners.push(row);
    }
    const plan = orderPlan();
    for (const row of kept()) {
      const values = changes(row);
      if (plan.has(row)) values[order] = plan.get(row);
      if (row.isNew) {
        // a new line sends what it holds (its defaults too), linked to this record
        for (const [name, w] of row.widgets) { const v = w.readValue(); if (v !== null && !(Array.isArray(v) && !v.length)) values[name] = v; }
        operations.push({ op: 'create', object: child.name, values: { ...values, [spec.ref]: Number(parent.id) } });
      } else if (Object.keys(values).length) {
        operations.push({ op: 'update', object: child.name, id: row.record.id, version: row.record.version, values });
      } else continue;
      owners.push(row);
    }
    if (!operations.length) { status.textContent = t('noChanges'); return; }
    saving = true;
    refresh();
    status.textContent = t('loading');
    try {
      await api('POST', '/batch', { body: { operations } });
    } catch (e) {
      saving = false;
      refresh();
      await refused(e, owners);
      return;
    }
    saving = false;
    try {
      await load();
      showTotals(await reread());
    } catch (e) { banner.textContent = e.message; }
    status.textContent = t('linesSaved');
    toast(t('linesSaved'));
  }

  addButton.addEventListener('click', addLine);
  saveButton.addEventListener('click', save);
  discardButton.addEventListener('click', () => load().catch((e) => { banner.textContent = e.message; }));
  body.addEventListener('input', refresh);
  body.addEventListener('change', refresh);
  // Alt+Up / Alt+Down move the line the focus is in (before a picker's own arrow keys)
  body.addEventListener('keydown', (e) => {
    if (!movable || !e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
    const row = rows.find((r) => r.tr.contains(e.target));
    if (!row) return;
    e.preventDefault();
    e.stopPropagation();
    move(row, e.key === 'ArrowUp' ? -1 : 1, e.target);
  }, true);
  state.guards.add(() => section.isConnected && dirty());
  showTotals(parent);
  await load();
  return section;
}

// ---- saved views ---------------------------------------------------------------------------------
// The list's filter and sort under a name, kept as records of the metadata's `saved_view` object
// (owned by the person; `role` shares one with everyone of that role: the role's read rule
// decides who sees it). Without that object (or the right to read it) there is nothing to show.
const SAVED_VIEW = 'saved_view';
async function savedViews(o, q, update) {
  const sv = objectOf(SAVED_VIEW);
  if (!sv) return null;
  let views = [];
  try {
    views = (await api('GET', `/objects/${SAVED_VIEW}`, { query: { filter: `object_name = ${quote(o.name)}`, sort: 'name', limit: 50 } })).data.records;
  } catch (e) { return null; }
  // mine first; then those shared with my role by someone else (theirs: I may apply them, not change
  // them). Another person's unshared view (an admin reads every one) is not offered.
  const me = state.user && state.user.id;
  const mine = views.filter((v) => v.owner === me);
  const shared = views.filter((v) => v.owner !== me && v.role);
  const offered = [...mine, ...shared];
  const current = offered.find((v) => (v.filter || '') === q.filter && (v.sort || '') === q.sort);
  const option = (v) => h('option', { value: String(v.id), selected: current && current.id === v.id, dataset: { shared: v.owner !== me ? 'true' : null },
    text: v.owner !== me ? `${v.name} · ${t('sharedView')}` : v.role ? `${v.name} (${t('sharedWith')} ${roleName(v.role)})` : v.name });
  const select = h('select', { id: 'saved-views', 'data-test': 'saved-views' },
    h('option', { value: '', text: t('allRecords') }),
    mine.length && shared.length ? h('optgroup', { label: t('myViews') }, mine.map(option)) : mine.map(option),
    shared.length ? h('optgroup', { label: t('sharedWithMe') }, shared.map(option)) : null);
  select.addEventListener('change', () => {
    const v = offered.find((x) => String(x.id) === select.value);
    update({ filter: v ? v.filter || '' : '', sort: v ? v.sort || '' : '', search: '' });
  });
  const box = h('div', { class: 'saved-views' }, h('label', { for: 'saved-views', text: t('views') }), select);
  // the chosen view: mine may be deleted; one shared with me says whose it is and stays as it is
  if (current && current.owner === me && sv.can && sv.can.delete) {
    box.append(h('button', { type: 'button', class: 'danger', 'data-test': 'delete-view', text: t('deleteView'), on: { click: async () => {
      if (!window.confirm(t('confirmDeleteView'))) return;
      try { await api('DELETE', `/objects/${SAVED_VIEW}/${current.id}`); toast(t('deleted')); update({ filter: '', sort: '' }); } catch (ex) { toast(ex.message, 'error'); }
    } } }));
  } else if (current && current.owner !== me) {
    const owner = { name: 'owner', type: 'user', to: 'user' };
    await resolveRefs({ fields: [owner] }, [current], ['owner']).catch(() => {});
    box.append(h('span', { class: 'shared-note', 'data-test': 'shared-view-note',
      text: fill(t('sharedReadOnly'), { who: state.names.get(`user:${current.owner}`) || `#${current.owner}`, role: roleName(current.role) }) }));
  }
  if (sv.can && sv.can.create && (q.filter || q.sort)) {
    const name = h('input', { 'aria-label': t('viewName'), placeholder: t('viewName'), 'data-test': 'view-name', maxlength: '80' });
    // an admin shares with any role (those people have: GET /reports/user grouped by role); others with their own
    const admin = !!(state.meta.caller && state.meta.caller.admin);
    let share;
    if (admin) {
      share = h('select', { id: 'share-view', 'data-test': 'share-role' }, h('option', { value: '', text: t('onlyMe') }));
      try {
        const { data } = await api('GET', '/reports/user', { query: { group: 'role', measure: 'count' } });
        for (const row of data.rows) if (row.role) share.append(h('option', { value: row.role, text: roleName(row.role) }));
      } catch (ex) { /* no roles to offer: the view stays the admin's */ }
    } else share = h('input', { type: 'checkbox', id: 'share-view' });
    const role = () => (admin ? share.value || null : share.checked && state.meta.caller ? state.meta.caller.role : null);
    const form = h('form', { class: 'save-view', on: { submit: async (e) => {
      e.preventDefault();
      if (!name.value.trim()) { name.focus(); return; }
      try {
        await api('POST', `/objects/${SAVED_VIEW}`, { body: { name: name.value.trim(), object_name: o.name, filter: q.filter || null,
          sort: q.sort || null, role: role() } });
        toast(t('saved'));
        update({});
      } catch (ex) { toast(ex.message, 'error'); }
    } } }, name, ...(admin ? [h('label', { for: 'share-view', text: t('shareWith') }), share] : [share, h('label', { for: 'share-view', text: t('shareRole') })]),
    h('button', { type: 'submit', 'data-test': 'save-view', text: t('saveView') }));
    box.append(form);
  }
  return box;
}
// a role as people read it: sales_rep -> Sales rep
const roleName = (role) => prettify(String(role || ''));

// ---- home ---------------------------------------------------------------------------------------
// Each person's home page: the sections objects declare in `views.home` (their open tasks, deals
// closing soon, approvals waiting for them...), each a short list under the caller's rules, and
// the records they viewed last (kept in this browser).
const RECENT = 'crm.recent';
function rememberRecord(o, r) {
  const list = JSON.parse(localStorage.getItem(RECENT) || '[]').filter((x) => !(x.o === o.name && x.id === r.id));
  list.unshift({ o: o.name, id: r.id, title: recordHeading(o, r) });
  localStorage.setItem(RECENT, JSON.stringify(list.slice(0, 8)));
}
// A portal user's new record is tied to what they are tied to (their partner, their contact): the
// form starts with those refs, which their role's create rule asks for.
function portalDefaults(o) {
  const out = {};
  for (const f of o.fields) if (isRef(f) && !f.readonly && state.user && Number.isInteger(state.user[f.name])) out[f.name] = state.user[f.name];
  return out;
}
async function viewHome(view) {
  // a role's own home (role `home:`, caller.home): its title and sections instead of the objects' views.home
  const portal = state.meta.caller && state.meta.caller.home;
  const title = portal ? label(portal.title, t('home')) : t('home');
  view.append(h('h1', { text: state.user && state.user.name ? `${title} · ${state.user.name}` : title }));
  // the queue first: approvals waiting for me and unread notifications
  // the role's dashboard tiles when it has some, else the caller's own figures (a portal: the role's only)
  const [inbox, kpis] = await Promise.all([viewInbox(), roleKpiSection({ compact: true }).then((x) => x || (portal ? null : kpiSection({ compact: true })))]);
  if (inbox) view.append(inbox);
  if (kpis) view.append(kpis);
  const grid = h('div', { class: portal ? 'home portal' : 'home', 'data-test': 'home' });
  view.append(grid);
  const sections = portal ? portal.sections.map((spec) => ({ o: objectOf(spec.object), spec })).filter((x) => x.o)
    : objects().flatMap((o) => (Array.isArray(o.views && o.views.home) ? o.views.home : []).map((spec) => ({ o, spec })));
  await Promise.all(sections.map(async ({ o, spec }, i) => {
    const fields = (spec.fields || listColumns(o)).filter((n) => fieldOf(o, n));
    const card = h('section', { class: 'home-card', dataset: { home: `${o.name}-${i}` } },
      h('h2', null, h('a', { href: hashWith(`/o/${o.name}`, { filter: spec.filter || '', sort: spec.sort || '' }), text: label(spec.title, objectPlural(o)) }),
        spec.new && o.can && o.can.create ? h('a', { class: 'button new', 'data-test': 'home-new', href: hashWith(`/o/${o.name}/new`, portalDefaults(o)), text: t('new') }) : null));
    grid.append(card);
    try {
      const { data } = await api('GET', `/objects/${o.name}`, { query: { filter: spec.filter, sort: spec.sort, limit: spec.limit || 10,
        fields: [...new Set(['id', ...fields, ...currencyFields(o, fields)])].join(',') } });
      await resolveRefs(o, data.records, fields);
      if (!data.records.length) { card.append(h('p', { class: 'empty', text: t('nothingHere') })); return; }
      card.append(h('table', { class: 'records compact' },
        h('tbody', null, data.records.map((r) => h('tr', null, fields.map((n, k) => h('td', { 'data-label': fieldLabel(fieldOf(o, n)) },
          k === 0 ? h('a', { href: `#/o/${o.name}/${r.id}`, text: formatValue(fieldOf(o, n), r[n], r) || `#${r.id}` }) : valueNode(fieldOf(o, n), r[n], r))))))));
    } catch (e) {
      card.append(h('p', { class: 'empty', text: e.message }));
    }
  }));
  const recent = JSON.parse(localStorage.getItem(RECENT) || '[]').filter((x) => objectOf(x.o));
  grid.append(h('section', { class: 'home-card', 'data-test': 'recent' }, h('h2', { text: t('recent') }),
    recent.length ? h('ul', null, recent.map((x) => h('li', null, h('a', { href: `#/o/${x.o}/${x.id}`, text: `${objectLabel(objectOf(x.o))}: ${x.title}` }))))
      : h('p', { class: 'empty', text: t('nothingHere') })));
}

// ---- global search --------------------------------------------------------------------------
// GET /api/v1/search: the server's full-text index of every object the caller reads that has
// `search: true` fields, under their row and field rules, five ranked hits per object, grouped,
// each with a snippet whose hits come between U+0002 and U+0003 (drawn as <mark>, as text nodes:
// a record's text is never read as HTML). Up and Down move between the hits.
function snippetNodes(text) {
  const out = [];
  (text || '').split('\u0002').forEach((part, i) => {
    const [hit, rest] = i ? part.split('\u0003') : [null, part];
    if (hit != null) out.push(h('mark', { text: hit }));
    if (rest) out.push(rest);
  });
  return out;
}
async function viewSearch(view, q) {
  view.append(h('h1', { text: q ? `${t('results')} “${q}”` : t('searchAll') }));
  if (q.length < 2) { view.append(h('p', { class: 'empty', text: t('searchHint') })); return; }
  let results = [];
  try { results = (await api('GET', '/search', { query: { q, limit: 5 } })).data.results; } catch (e) { results = []; }
  const found = results.map((g) => ({ o: objectOf(g.object), records: g.records })).filter((g) => g.o && g.records.length);
  if (!found.length) { view.append(h('p', { class: 'empty', 'data-test': 'no-results', text: t('noResults') })); return; }
  const box = h('div', { class: 'search-results', 'data-test': 'search-results' }, found.map(({ o, records }) =>
    h('section', { class: 'group', dataset: { object: o.name } }, h('h2', { text: objectPlural(o) }),
      h('ul', null, records.map((r) => h('li', null, h('a', { href: `#/o/${o.name}/${r.id}`, text: recordTitle(o, r) }),
        r._snippet ? h('div', { class: 'snippet', 'data-test': 'snippet' }, snippetNodes(r._snippet)) : null))))));
  box.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const links = [...box.querySelectorAll('a')];
    const i = links.indexOf(document.activeElement);
    const next = links[Math.max(0, Math.min(links.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))];
    if (next) { e.preventDefault(); next.focus(); }
  });
  view.append(box);
  // the view is attached to the page after this returns: focus the first hit then
  const first = box.querySelector('a');
  if (first) requestAnimationFrame(() => first.focus());
}

// ---- KPI tiles ------------------------------------------------------------------------------------
// GET /api/v1/kpis?day=&scope=me|team|all (metadata `kpi:` documents): a tile per key figure with its
// period, target and attainment bar, and the change against the previous period. The dashboard
// groups them by category with a scope switch; the home page shows the caller's own in one row.
const KPI_SCOPE = 'crm.kpiScope';
const KPI_SCOPES = ['me', 'team', 'all'];
const KPI_CATEGORIES = ['operating', 'business_value'];
// the measured field of a kpi (sum(amount) -> amount), null for a count
function kpiField(k) {
  const o = objectOf(k.object);
  const m = /^\w+\((\w+)\)$/.exec(k.measure || '');
  return o && m ? fieldOf(o, m[1]) || null : null;
}
// a kpi's figure: money in the company currency, a percent field's as a percent, a count whole
function kpiFigure(k, v) {
  if (typeof v !== 'number') return '—';
  if (k.unit) return kpiUnitFigure(k.unit, v);
  const f = kpiField(k);
  const type = f ? valueType(f) : 'int';
  if (type === 'money') return formatMoney(v, appCurrency());
  const digits = f ? 2 : 0;
  const number = new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(v);
  return type === 'percent' ? `${number}%` : number;
}
// a figure by the kpi's unit (the server's, from the kpi's `unit:` or its measure): money in the company
// currency, a count whole, the others to two places with their sign
function kpiUnitFigure(unit, v) {
  if (unit === 'money') return formatMoney(v, appCurrency());
  const number = new Intl.NumberFormat(locale(), { maximumFractionDigits: unit === 'count' ? 0 : 2 }).format(v);
  if (unit === 'percent') return `${number}%`;
  if (unit === 'hours' || unit === 'days') return fill(t(`${unit}Unit`), { n: number });
  return number;
}
// "Q4 2026", "2026-12", "2026" (zh: 2026年第4季度, 2026年12月, 2026年) from a period's first day
function periodName(period, start) {
  const [y, m] = String(start || '').split('-');
  if (!y) return '';
  if (period === 'quarter') return fill(t('quarterOf'), { q: Math.floor((Number(m) - 1) / 3) + 1, y });
  if (period === 'year') return fill(t('yearOf'), { y });
  return fill(t('monthOf'), { y, m });
}
// prefix: the section's, so that a kpi on the role's dashboard and among all the figures has two ids
function kpiTile(k, compact, prefix = '') {
  const figure = h('p', { class: 'kpi-figure', 'data-test': 'kpi-actual', dataset: { value: k.actual == null ? '' : String(k.actual) }, text: kpiFigure(k, k.actual) });
  const id = `kpi-${prefix}${k.name}-${compact ? 'c' : 'd'}`;
  const tile = h('section', { class: compact ? 'kpi-tile compact' : 'kpi-tile', 'data-kpi': k.name, 'aria-labelledby': id },
    h('h3', { id }, label(k.label, prettify(k.name))),
    h('p', { class: 'kpi-period', 'data-test': 'kpi-period', text: periodName(k.period, k.start) }), figure);
  if (typeof k.target === 'number') {
    // the bar runs to 125% of the target; the line marks 100%
    const att = typeof k.attainment === 'number' ? k.attainment : null;
    const width = att == null ? 0 : Math.max(0, Math.min(att, 125)) / 1.25;
    tile.append(h('div', { class: att != null && att >= 100 ? 'kpi-bar met' : 'kpi-bar', 'aria-hidden': 'true' },
      h('span', { class: 'kpi-fill', dataset: { width: width.toFixed(1) } }), h('span', { class: 'kpi-target-line' })),
    h('p', { class: 'kpi-target', 'data-test': 'kpi-target' },
      // no attainment (the server gives none while the figure is 0 or missing): the target alone
      att == null ? h('span') : h('span', { 'data-test': 'kpi-attainment', text: `${new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(att)}% ${t('attainment')}` }),
      h('span', { class: 'kpi-goal', text: `${t('targetOf')}${t('colon')}${kpiFigure(k, k.target)}` })));
  } else if (!compact) tile.append(h('p', { class: 'kpi-target empty', text: t('noTarget') }));
  if (typeof k.actual === 'number' && typeof k.previous === 'number') {
    const change = k.actual - k.previous;
    const better = change === 0 ? null : (change > 0) === (k.direction !== 'down');
    const previous = periodName(k.period, k.previous_start);
    tile.append(h('p', { class: `kpi-trend ${better == null ? 'same' : better ? 'better' : 'worse'}`, 'data-test': 'kpi-trend' },
      h('span', { 'aria-hidden': 'true', text: change > 0 ? '▲ ' : change < 0 ? '▼ ' : '＝ ' }),
      h('span', { class: 'visually-hidden', text: `${t(better == null ? 'unchanged' : better ? 'better' : 'worse')}: ` }),
      `${change === 0 ? '' : change > 0 ? '+' : '−'}${change === 0 ? '' : kpiFigure(k, Math.abs(change))} ${t('vsPrevious')} ${previous} (${kpiFigure(k, k.previous)})`));
  }
  return tile;
}
// The bars' widths are set after the tiles are built: the CSP allows no style attribute in the markup
function sizeBars(root) {
  for (const fill of root.querySelectorAll('.kpi-fill')) fill.style.width = `${fill.dataset.width}%`;
}
// the tiles of the kpis of `module` (all when null) as `scope` sees them on `day`
async function kpiSection({ module, compact, day }) {
  const box = h('section', { class: compact ? 'kpis compact' : 'kpis', 'data-test': compact ? 'kpis-home' : 'kpis', 'aria-labelledby': compact ? 'kpis-home-title' : 'kpis-title' });
  let scope = compact ? 'me' : localStorage.getItem(KPI_SCOPE) || 'me';
  if (!KPI_SCOPES.includes(scope)) scope = 'me';
  const area = h('div', { class: 'kpi-area', 'aria-live': 'polite' });
  const switcher = compact ? null : h('div', { class: 'kpi-scope', role: 'group', 'aria-label': t('kpiScope'), 'data-test': 'kpi-scope' });
  const draw = async () => {
    let data;
    try {
      ({ data } = await api('GET', '/kpis', { query: { scope, day } }));
    } catch (e) {
      clear(area).append(h('p', { class: 'error', text: e.message }));
      return false;
    }
    const kpis = data.kpis.filter((k) => !module || (objectOf(k.object) && moduleOf(objectOf(k.object)) === module));
    clear(area);
    box.dataset.scope = data.scope;
    if (!kpis.length) { area.append(h('p', { class: 'empty', text: t('noKpis') })); return kpis.length > 0; }
    if (compact) area.append(h('div', { class: 'kpi-row' }, kpis.map((k) => kpiTile(k, true))));
    else for (const category of KPI_CATEGORIES) {
      const mine = kpis.filter((k) => (k.category || 'operating') === category);
      if (!mine.length) continue;
      area.append(h('div', { class: 'kpi-group', 'data-category': category },
        h('h3', { class: 'kpi-category', text: t(category) }), h('div', { class: 'kpi-row' }, mine.map((k) => kpiTile(k, false)))));
    }
    sizeBars(area);
    return true;
  };
  if (switcher) {
    const buttons = KPI_SCOPES.map((x) => h('button', { type: 'button', 'data-scope': x, 'aria-pressed': String(x === scope),
      text: t({ me: 'scopeMe', team: 'scopeTeam', all: 'scopeAll' }[x]), on: { click: async () => {
        scope = x;
        localStorage.setItem(KPI_SCOPE, x);
        for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.scope === x));
        await draw();
      } } }));
    switcher.append(...buttons);
  }
  box.append(h('div', { class: 'title' }, h('h2', { id: compact ? 'kpis-home-title' : 'kpis-title' },
    compact ? h('a', { href: '#/dash', text: t('kpis') }) : t('kpis')), switcher), area);
  const any = await draw();
  return compact && !any ? null : box;
}

// ---- report documents (metadata `report:`) on a module's dashboard ------------------------------------
// GET /api/v1/reports lists those the caller may run, with their columns; each is drawn as its view says:
// funnel (the measures as stages of the first row), line (a line per measure over the date group), bar
// (the first measure per row) or table. Labels are the documents' { en, zh }.
let reportDocumentsCache = null;
async function reportDocuments() {
  if (!reportDocumentsCache) {
    reportDocumentsCache = api('GET', '/reports').then((x) => x.data.reports, () => []);
  }
  return reportDocumentsCache;
}
// the field a root path names (account.industry), for enum labels; null if it leaves the metadata
function reportPathField(objectName, path) {
  let o = objectOf(objectName);
  let f = null;
  for (const part of String(path).split('.')) {
    f = fieldOf(o, part);
    if (!f) return null;
    o = f.to ? objectOf(f.to) : null;
  }
  return f;
}
// a cell of a report row: an enum group's label, a measure as its type (money converted, a count whole)
function reportCell(doc, column, v, compact) {
  if (column.kind === 'group') {
    if (v == null || v === '') return '—';
    const f = column.by ? null : reportPathField(doc.object, column.path || column.name);
    return f && valueType(f) === 'enum' ? enumLabel(f, v) : String(v);
  }
  if (typeof v !== 'number') return v == null ? '' : String(v);
  return formatMeasure({ type: column.type, name: column.name }, v, compact);
}
function reportRowLabel(doc, row) {
  const groups = doc.columns.filter((c) => c.kind === 'group');
  const named = groups.filter((c) => c.name !== 'id');
  return (named.length ? named : groups).map((c) => reportCell(doc, c, row[c.name])).join(' · ');
}
function funnelChart(title, stages, format) {
  const W = 560, rowH = 44, top = 8, H = top + stages.length * rowH + 8;
  const max = Math.max(0, ...stages.map((st) => st.value)) || 1;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'chart funnel' }, s('title', null, title));
  stages.forEach((st, i) => {
    const width = Math.max(((W - 200) * st.value) / max, 2);
    const x = 130 + (W - 200 - width) / 2;
    const y = top + i * rowH;
    const before = i > 0 ? stages[i - 1].value : null;
    const share = before ? `${new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format((st.value / before) * 100)}%` : '';
    svg.append(
      s('rect', { x: x.toFixed(1), y, width: width.toFixed(1), height: rowH - 10, rx: 3, class: 'bar', 'data-stage': st.name },
        s('title', null, `${st.label}: ${format(st.value)}${share ? ` (${share} ${t('ofPrevious')})` : ''}`)),
      s('text', { x: 122, y: y + (rowH - 10) / 2 + 4, 'text-anchor': 'end', class: 'axis' }, axisLabel(st.label, 18)),
      s('text', { x: W - 64, y: y + (rowH - 10) / 2 + 4, 'text-anchor': 'start', class: 'value' }, format(st.value)),
      share ? s('text', { x: W - 8, y: y + (rowH - 10) / 2 + 4, 'text-anchor': 'end', class: 'axis share' }, share) : '');
  });
  return svg;
}
function lineChart(title, labels, series) {
  const W = 560, H = 260, left = 56, right = 28, top = 16, bottom = 48;
  const max = Math.max(0, ...series.flatMap((se) => se.values.map((v) => v || 0))) || 1;
  const step = labels.length > 1 ? (W - left - right) / (labels.length - 1) : 0;
  const x = (i) => left + (labels.length > 1 ? i * step : (W - left - right) / 2);
  const y = (v) => top + (H - top - bottom) * (1 - (v || 0) / max);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'chart line' }, s('title', null, title));
  svg.append(s('line', { x1: left, x2: W - right, y1: H - bottom, y2: H - bottom, class: 'baseline' }),
    s('text', { x: left - 6, y: top + 4, 'text-anchor': 'end', class: 'axis' }, series[0] ? series[0].format(max) : ''),
    s('text', { x: left - 6, y: H - bottom, 'text-anchor': 'end', class: 'axis' }, '0'));
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((l, i) => {
    // every every-th label, and the last, never closer to it than every steps
    if ((i % every === 0 && labels.length - 1 - i >= every) || i === labels.length - 1)
      svg.append(s('text', { x: x(i).toFixed(1), y: H - bottom + 16, 'text-anchor': 'middle', class: 'axis' }, l));
  });
  series.forEach((se, k) => {
    const points = se.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.append(s('polyline', { points, class: `series series-${k % 4}`, fill: 'none' }));
    se.values.forEach((v, i) => svg.append(s('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, class: `series-${k % 4}` },
      s('title', null, `${se.label} · ${labels[i]}: ${se.format(v || 0)}`))));
    svg.append(s('rect', { x: left + k * 140, y: H - 18, width: 10, height: 10, class: `series-${k % 4}` }),
      s('text', { x: left + k * 140 + 14, y: H - 9, class: 'axis' }, axisLabel(se.label, 18)));
  });
  return svg;
}
function reportTable(doc) {
  // in a box of its own that scrolls sideways: a wide table never widens the page (a phone)
  return h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': label(doc.label, doc.name) }, h('table', { class: 'report-table', 'data-test': 'report-table' },
    h('thead', null, h('tr', null, doc.columns.map((c) => h('th', { scope: 'col', class: c.kind === 'measure' ? 'num' : null, text: label(c.label, c.name) })))),
    h('tbody', null, doc.rows.map((row) => h('tr', null, doc.columns.map((c) =>
      h('td', { class: c.kind === 'measure' ? 'num' : null, text: reportCell(doc, c, row[c.name]) })))))));
}
// one report document as a dashboard card: GET /api/v1/reports/<name>, drawn as its view
async function reportCard(summary) {
  const title = label(summary.label, prettify(summary.name));
  const card = h('section', { class: 'chart-card report-card', dataset: { report: summary.name, view: summary.view } },
    h('h2', { text: title }));
  try {
    const { data: doc } = await api('GET', `/reports/${encodeURIComponent(summary.name)}`);
    const measures = doc.columns.filter((c) => c.kind === 'measure');
    const fmt = (c) => (v) => reportCell(doc, c, v, true);
    if (!doc.rows.length) card.append(h('p', { class: 'empty', text: t('noChart') }));
    else if (doc.view === 'funnel') {
      const row = doc.rows[0];
      card.append(funnelChart(title, measures.map((c) => ({ name: c.name, label: label(c.label, c.name), value: row[c.name] || 0 })), fmt(measures[0])));
    } else if (doc.view === 'line') {
      const dated = doc.columns.find((c) => c.kind === 'group' && c.by);
      const rows = doc.rows.filter((r) => r[dated.name] != null).slice(-24);
      card.append(lineChart(title, rows.map((r) => String(r[dated.name])),
        measures.map((c) => ({ label: label(c.label, c.name), values: rows.map((r) => r[c.name]), format: fmt(c) }))));
    } else if (doc.view === 'bar') {
      const m = measures[0];
      card.append(barChart(title, doc.rows.slice(0, 12).map((r) => ({ label: reportRowLabel(doc, r), value: r[m.name] || 0 })), fmt(m)));
    } else card.append(reportTable(doc));
  } catch (e) {
    card.append(h('p', { class: 'error', text: e.message }));
  }
  return card;
}
// the report documents of module (every one with a module when null), in metadata order
async function reportSection(module) {
  const mine = (await reportDocuments()).filter((r) => r.module && (!module || r.module === module));
  if (!mine.length) return null;
  const box = h('section', { class: 'charts reports', 'data-test': 'reports', 'aria-label': t('reportsTitle') });
  box.append(...(await Promise.all(mine.map(reportCard))));
  return box;
}

// ---- a dashboard per role -------------------------------------------------------------------------
// GET /api/v1/kpis?view=dashboard: the tiles of the caller's role (kpi `dashboards:`), each for the
// people the kpi gives that role (a rep their own, a manager their team, an admin everyone), grouped by
// category. null when the role has none: the page then shows every kpi (kpiSection) instead.
function kpiScopeName(scope) {
  return t({ me: 'scopeMe', team: 'scopeTeam', all: 'scopeAll' }[scope] || 'scopeMe');
}
async function roleKpiSection({ compact, day }) {
  let data;
  try {
    ({ data } = await api('GET', '/kpis', { query: { view: 'dashboard', day } }));
  } catch (e) {
    return null;
  }
  if (!data.kpis.length) return null;
  const id = compact ? 'kpis-role-home-title' : 'kpis-role-title';
  const box = h('section', { class: compact ? 'kpis compact role' : 'kpis role', 'data-test': compact ? 'kpis-home' : 'kpis-role',
    'aria-labelledby': id, dataset: { view: 'dashboard', role: data.role } });
  const scopes = [...new Set(data.kpis.map((k) => k.scope))];
  box.append(h('div', { class: 'title' },
    h('h2', { id }, compact ? h('a', { href: '#/dash', text: t('myDashboard') }) : t('myDashboard')),
    h('p', { class: 'kpi-for', 'data-test': 'kpi-for', text: `${t('kpiFor')}${t('colon')}${scopes.map(kpiScopeName).join(', ')}` })));
  const area = h('div', { class: 'kpi-area' });
  for (const category of KPI_CATEGORIES) {
    const mine = data.kpis.filter((k) => (k.category || 'operating') === category);
    if (!mine.length) continue;
    area.append(h('div', { class: 'kpi-group', 'data-category': category },
      h('h3', { class: 'kpi-category', text: t(category) }), h('div', { class: 'kpi-row' }, mine.map((k) => kpiTile(k, compact, 'role-')))));
  }
  box.append(area);
  sizeBars(area);
  return box;
}

// #/dash: every chart and the caller's inbox; #/dash/<module>: one module's charts (Quote to Cash's)
async function viewDashboard(view, module, params) {
  const charted = objects().filter((o) => chartsOf(o).length || kanbanOf(o));
  const reported = (await reportDocuments()).map((r) => r.module).filter(Boolean);
  const modules = [...new Set([...charted.map(moduleOf), ...reported])];
  const inModule = (o) => !module || moduleOf(o) === module;
  const link = (m) => h('a', { href: m ? `#/dash/${encodeURIComponent(m)}` : '#/dash', 'aria-current': (m || null) === (module || null) ? 'page' : null,
    text: m ? moduleLabel(m) : t('allModules') });
  append(view, [h('h1', { text: module ? `${t('dashboard')} · ${moduleLabel(module)}` : t('dashboard') }),
    modules.length > 1 ? h('nav', { class: 'dash-modules', 'aria-label': t('dashboards'), 'data-test': 'dash-modules' },
      h('ul', null, [null, ...modules].map((m) => h('li', null, link(m))))) : null]);
  const grid = h('div', { class: 'charts' });
  view.append(grid);
  // the key figures first (?day= looks at another period), then the inbox and the charts
  const day = params && params.get('day');
  const [role, kpis, inbox, reports] = await Promise.all([module ? null : roleKpiSection({ day }), kpiSection({ module, day }),
    module ? null : viewInbox(), reportSection(module)]);
  if (role) grid.before(role);
  if (kpis) grid.before(kpis);
  if (inbox) grid.before(inbox);
  if (reports) grid.before(reports);
  const defined = objects().filter((o) => inModule(o) && chartsOf(o).length);
  const boards = objects().filter((o) => inModule(o) && kanbanOf(o) && !chartsOf(o).length);
  if (!boards.length && !defined.length && !reports) grid.append(h('p', { class: 'empty', text: t('welcome') }));
  // YAML-defined charts first, in metadata order (slots keep the order while requests overlap)
  const slots = defined.flatMap((o) => chartsOf(o).map((c, i) => {
    const slot = h('div', { class: 'chart-slot' });
    grid.append(slot);
    return definedChart(o, c, i).then((card) => slot.replaceWith(card));
  }));
  await Promise.all([...slots, ...boards.map(async (o) => {
    const kb = kanbanOf(o);
    const gf = fieldOf(o, kb.group_by);
    const sumf = kb.sum ? fieldOf(o, kb.sum) : null;
    const measure = sumf ? `sum(${sumf.name})` : 'count';
    const key = sumf ? `sum_${sumf.name}` : 'count';
    const card = h('section', { class: 'chart-card', 'data-chart': `${o.name}-${gf.name}` });
    grid.append(card);
    try {
      const { data } = await api('GET', `/reports/${o.name}`, { query: { group: gf.name, measure } });
      const byValue = new Map(data.rows.map((r) => [r[gf.name], r[key] || 0]));
      const rows = (gf.values || []).map((v) => ({ label: label(v.label, v.value), value: byValue.get(v.value) || 0 }));
      const title = `${objectLabel(o)}: ${sumf ? fieldLabel(sumf) : '#'} ${t('by_')} ${fieldLabel(gf)}`;
      card.append(h('h2', null, h('a', { href: `#/k/${o.name}`, text: title })), barChart(title, rows, (v) => formatMeasure(sumf, v, true)));
    } catch (e) {
      card.append(h('p', { class: 'error', text: e.message }));
    }
    // a monthly chart over the object's first date field, filterable by the board's column
    const datef = o.fields.find((f) => !f.system && f.type === 'date');
    if (!sumf || !datef) return;
    const monthly = h('section', { class: 'chart-card', 'data-chart': `${o.name}-${datef.name}-month` });
    grid.append(monthly);
    const pick = h('select', { 'aria-label': fieldLabel(gf) }, h('option', { value: '', text: t('all') }),
      (gf.values || []).map((v) => h('option', { value: v.value, text: label(v.label, v.value) })));
    const area = h('div');
    const draw = async () => {
      clear(area);
      try {
        const { data } = await api('GET', `/reports/${o.name}`, { query: { group: datef.name, measure, filter: pick.value ? `${gf.name} = ${quote(pick.value)}` : '' } });
        const months = new Map();
        for (const r of data.rows) {
          const d = r[datef.name];
          if (!d) continue;
          const m = String(d).slice(0, 7);
          months.set(m, (months.get(m) || 0) + (r[key] || 0));
        }
        const rows = [...months].sort((a, b) => a[0].localeCompare(b[0])).slice(-12).map(([m, v]) => ({ label: m, value: v }));
        const title = `${fieldLabel(sumf)} ${t('perMonth')} (${fieldLabel(datef)})`;
        area.append(rows.length ? barChart(title, rows, (v) => formatMeasure(sumf, v, true)) : h('p', { class: 'empty', text: t('noChart') }));
      } catch (e) {
        area.append(h('p', { class: 'error', text: e.message }));
      }
    };
    pick.addEventListener('change', draw);
    monthly.append(h('div', { class: 'title' }, h('h2', { text: `${objectLabel(o)}: ${fieldLabel(sumf)} ${t('perMonth')}` }), pick), area);
    await draw();
  })]);
}

// ---- the console (views.console): a queue, the record with its clocks, its customer's 360 ------
// Built from the metadata of any object that declares views.console (docs/metadata.md#console-view).
// a console is an employee's tool for working a queue: partner and consumer portals list the records only
function worksQueues() {
  return !state.user || !state.user.kind || state.user.kind === 'employee';
}
function consoleOf(o) {
  const c = o && o.views && o.views.console;
  return c && typeof c.queue === 'string' ? c : null;
}
// "2h 15m", "3d 4h", "40m" (zh: 2小时15分钟)
function duration(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const d = Math.floor(minutes / 1440), hh = Math.floor((minutes % 1440) / 60), m = minutes % 60;
  const sep = state.lang === 'zh' ? '' : ' ';
  const parts = d ? [[d, 'unitD'], [hh, 'unitH']] : hh ? [[hh, 'unitH'], [m, 'unitM']] : [[m, 'unitM']];
  return parts.filter(([n], i) => n || i === 0).map(([n, u]) => `${n}${t(u)}`).join(sep);
}
// A clock of record r at now: met or violated once done, paused, counting down, overdue, or none.
function clockState(c, spec, r, now) {
  const due = r[spec.due] ? Date.parse(r[spec.due]) : NaN;
  if (spec.done && r[spec.done]) {
    const done = Date.parse(r[spec.done]);
    return { kind: Number.isNaN(due) || done <= due ? 'met' : 'violated' };
  }
  if (Number.isNaN(due)) return { kind: 'none' };
  if (c.paused && r[c.paused]) return { kind: 'paused' };
  return due >= now ? { kind: 'left', ms: due - now } : { kind: 'overdue', ms: now - due };
}
const clockText = (st) => ({ left: () => t('clockLeft').replace('{d}', duration(st.ms)),
  overdue: () => t('clockOverdue').replace('{d}', duration(st.ms)), paused: () => t('clockPaused'),
  met: () => t('clockMet'), violated: () => t('clockViolated'), none: () => t('clockNone') })[st.kind]();
// The clock a queue entry shows: the first still running, else the last one
const queueClock = (c, r) => (c.clocks || []).find((k) => !(k.done && r[k.done])) || (c.clocks || []).slice(-1)[0];
// A live clock: its text and colour follow the time (one timer for the page, stopped when it goes)
let clockTimer = null;
function clockNode(c, spec, r, big) {
  const el = h('span', { class: `clock${big ? ' big' : ''}`, 'data-test': 'console-clock', role: big ? 'timer' : null });
  const paint = () => {
    const st = clockState(c, spec, r, Date.now());
    el.className = `clock ${st.kind}${big ? ' big' : ''}`;
    el.dataset.state = st.kind;
    el.textContent = clockText(st);
  };
  el.paint = paint;
  paint();
  if (!clockTimer) clockTimer = setInterval(() => {
    const live = document.querySelectorAll('#main .clock');
    if (!live.length) { clearInterval(clockTimer); clockTimer = null; return; }
    live.forEach((x) => x.paint && x.paint());
  }, 1000);
  return el;
}
// fields of o the caller may read, among names
const readable = (o, names) => (names || []).filter((n) => fieldOf(o, n));
const andFilter = (...parts) => parts.filter(Boolean).map((p) => `(${p})`).join(' and ');
// A panel of records of p.object whose p.ref is id (related records, or the customer's): hidden when
// the caller's role may not read the object
async function consolePanel(p, id) {
  const o = objectOf(p.object);
  const ref = o && fieldOf(o, p.ref);
  if (!o || !ref) return null;
  const names = readable(o, p.fields);
  const box = h('section', { class: 'console-panel', 'data-test': `console-panel-${p.object}` },
    h('h3', { text: label(p.title, objectPlural(o)) }));
  try {
    const { data } = await api('GET', `/objects/${o.name}`, { query: { filter: andFilter(`${p.ref} = ${Number(id)}`, p.filter),
      sort: p.sort || '-id', limit: p.limit || 10, fields: ['id', ...names, ...currencyFields(o, names)].join(',') } });
    await resolveRefs(o, data.records, names);
    if (!data.records.length) box.append(h('p', { class: 'empty', text: t('nothingHere') }));
    else box.append(h('ul', null, data.records.map((r) => h('li', null,
      h('a', { href: `#/o/${o.name}/${r.id}`, text: names[0] ? formatValue(fieldOf(o, names[0]), r[names[0]], r) || `#${r.id}` : `#${r.id}` }),
      h('span', { class: 'sub' }, names.slice(1).map((n) => r[n] == null || r[n] === '' ? null
        : h('span', { title: fieldLabel(fieldOf(o, n)) }, valueNode(fieldOf(o, n), r[n], r))))))));
  } catch (e) {
    box.append(h('p', { class: 'error', text: e.message }));
  }
  return box;
}
// Suggestions from a plugin route (an empty panel when it answers 404 or is not there)
async function consoleSuggestions(o, c, r, etag) {
  const linkField = fieldOf(o, c.link);
  const box = h('section', { class: 'console-panel', 'data-test': 'console-suggestions' }, h('h3', { text: t('suggestions') }));
  let items = [];
  try {
    const { data } = await api('GET', `/plugins/${c.suggest.replace('{id}', encodeURIComponent(r.id))}`);
    items = Array.isArray(data) ? data : Object.values(data || {}).find(Array.isArray) || [];
  } catch (e) { items = []; }
  items = items.filter((x) => x && Number.isInteger(x.id)).slice(0, 10);
  if (!items.length) box.append(h('p', { class: 'empty', text: t('noSuggestions') }));
  box.append(h('ul', null, items.map((x) => h('li', null,
    h('a', { href: linkField ? `#/o/${linkField.to}/${x.id}` : null, text: String(x.title || x.name || x.number || `#${x.id}`) }),
    linkField && editable(linkField) ? (r[c.link] === x.id ? h('span', { class: 'sub', text: t('linkedNow') })
      : h('button', { type: 'button', 'data-test': 'console-link', text: t('link'), on: { click: async () => {
        try {
          await api('PATCH', `/objects/${o.name}/${r.id}`, { body: { [c.link]: x.id }, headers: { 'If-Match': etag } });
          toast(t('saved'));
          render();
        } catch (e) { toast(e.message, 'error'); }
      } } })) : null))));
  return box;
}
async function viewConsole(view, o, id) {
  const c = consoleOf(o);
  const columns = readable(o, c.columns && c.columns.length ? c.columns : listColumns(o).slice(0, 4));
  const clocks = (c.clocks || []).filter((k) => fieldOf(o, k.due));
  const clockFields = clocks.flatMap((k) => [k.due, k.done]).concat(c.paused).filter((n) => n && fieldOf(o, n));
  const sort = c.sort || (clocks[0] && clocks[0].due) || '-id';
  const sortName = sort.replace(/^-/, '');
  const fields = ['id', ...new Set([...columns, ...clockFields, ...currencyFields(o, columns)])].join(',');
  view.append(h('div', { class: 'title' }, h('h1', { text: label(c.title, `${objectLabel(o)} · ${t('console')}`) })));
  // the queue: dated records in order, then those without (the kernel sorts nulls first)
  const ask = (extra, limit) => api('GET', `/objects/${o.name}`, { query: { filter: andFilter(c.queue, extra), sort, limit, fields } });
  const dated = fieldOf(o, sortName) ? (await ask(`${sortName} is not null`, 50)).data.records : [];
  const undated = (await ask(fieldOf(o, sortName) ? `${sortName} is null` : '', 50 - dated.length || 1)).data.records;
  const queue = [...dated, ...undated].slice(0, 50);
  await resolveRefs(o, queue, columns);
  const selected = id ? Number(id) : queue[0] && queue[0].id;
  const left = h('section', { class: 'console-queue', 'aria-label': t('myQueue'), 'data-test': 'console-queue' },
    h('h2', { text: `${t('myQueue')} (${queue.length})` }));
  if (!queue.length) left.append(h('p', { class: 'empty', text: t('queueEmpty') }));
  left.append(h('ol', null, queue.map((r) => {
    const spec = queueClock(c, r);
    return h('li', null, h('a', { href: `#/console/${o.name}/${r.id}`, 'data-test': 'console-item', 'data-id': r.id,
      'aria-current': r.id === selected ? 'true' : null },
    h('span', { class: 'item-title', text: columns[0] ? formatValue(fieldOf(o, columns[0]), r[columns[0]], r) || `#${r.id}` : `#${r.id}` }),
    h('span', { class: 'sub' }, columns.slice(1).map((n) => r[n] == null || r[n] === '' ? null
      : h('span', { text: formatValue(fieldOf(o, n), r[n], r) }))),
    spec ? clockNode(c, spec, r, false) : null));
  })));
  const middle = h('section', { class: 'console-record', 'data-test': 'console-record' });
  const right = h('aside', { class: 'console-360', 'data-test': 'console-360' });
  view.append(h('div', { class: 'console', 'data-test': 'console' }, left, middle, right));
  if (!selected) { middle.append(h('p', { class: 'empty', text: t('chooseRecord') })); return; }
  const { data: r, etag } = await api('GET', `/objects/${o.name}/${selected}`);
  const shown = readable(o, c.fields && c.fields.length ? c.fields : listColumns(o));
  await resolveRefs(o, [r], shown.concat(c.customer || []));
  const message = h('p', { class: 'error', role: 'alert' });
  const transitions = Array.isArray(r._transitions) ? r._transitions : [];
  middle.append(h('div', { class: 'title' }, h('h2', { text: recordHeading(o, r) }),
    h('a', { class: 'button', href: `#/o/${o.name}/${r.id}`, text: t('openRecord') })),
  clocks.length ? h('div', { class: 'console-clocks', role: 'group', 'aria-label': t('clocks') }, clocks.map((k) =>
    h('div', null, h('span', { class: 'sub', text: fieldLabel(fieldOf(o, k.due)) }), clockNode(c, k, r, true)))) : null,
  h('div', { class: 'transitions', role: 'group', 'aria-label': t('transitions') }, transitions.map((tr) => {
    const name = typeof tr === 'string' ? tr : tr.name;
    return h('button', { type: 'button', 'data-transition': name, text: transitionLabel(o, name), on: { click: async () => {
      try {
        await api('POST', `/objects/${o.name}/${r.id}/transitions/${encodeURIComponent(name)}`, { body: {}, headers: { 'If-Match': etag } });
        toast(t('saved'));
        go(`#/console/${o.name}/${r.id}`);
      } catch (e) { message.textContent = transitionError(o, name, e); }
    } } });
  })), message,
  h('dl', { class: 'fields console-fields' }, shown.map((n) => [h('dt', { text: fieldLabel(fieldOf(o, n)) }),
    h('dd', null, valueNode(fieldOf(o, n), r[n], r))])));
  const related = await Promise.all((c.related || []).map((p) => consolePanel(p, r.id)));
  append(middle, related);
  if (c.suggest) middle.append(await consoleSuggestions(o, c, r, etag));
  // the customer's 360: each panel of an object the caller may read
  const cf = c.customer && fieldOf(o, c.customer);
  if (cf && r[c.customer] != null) {
    right.append(h('h2', null, objectOf(cf.to) ? h('a', { href: `#/360/${cf.to}/${r[c.customer]}`, text: formatValue(cf, r[c.customer]) })
      : formatValue(cf, r[c.customer])));
    append(right, await Promise.all((c.panels || []).map((p) => consolePanel(p, r[c.customer]))));
  } else right.hidden = true;
}

window.addEventListener('hashchange', render);
render();
