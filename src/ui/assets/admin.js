// stockbridge admin UI: live figures over Server-Sent Events, the on-hand chart (uPlot), and
// refreshing fragments after a change. No inline script anywhere: the CSP allows only 'self'.
(function () {
  'use strict'
  var fmt = new Intl.NumberFormat('en-GB')

  function setText(root, field, value) {
    var el = root.querySelector('[data-f="' + field + '"]')
    if (el && value !== undefined && value !== null) el.textContent = fmt.format(value)
  }

  function flash(el) {
    el.classList.remove('flash')
    void el.offsetWidth
    el.classList.add('flash')
    setTimeout(function () { el.classList.remove('flash') }, 1200)
  }

  function applyEvent(env) {
    var d = env.data
    if (!d) return
    document.querySelectorAll('[data-level-sku]').forEach(function (row) {
      if (row.dataset.levelSku !== d.sku || Number(row.dataset.levelWh) !== d.warehouse_id) return
      setText(row, 'on_hand', d.after.on_hand)
      setText(row, 'reserved', d.after.reserved)
      setText(row, 'available', d.after.available)
      flash(row)
    })
    document.querySelectorAll('[data-total-sku]').forEach(function (box) {
      if (box.dataset.totalSku !== d.sku) return
      setText(box, 'on_hand', d.totals.on_hand)
      setText(box, 'reserved', d.totals.reserved)
      setText(box, 'available', d.totals.available)
    })
    var recent = document.getElementById('recent')
    if (recent) {
      var li = document.createElement('li')
      var t = document.createElement('time')
      t.dateTime = env.created_at
      t.textContent = env.created_at.slice(0, 19).replace('T', ' ') + ' '
      var a = document.createElement('a')
      a.href = '/admin/sku/' + encodeURIComponent(d.sku)
      a.textContent = d.sku
      li.appendChild(t)
      li.appendChild(a)
      li.appendChild(document.createTextNode(' · ' + d.change_type + ' · warehouse ' + d.warehouse_id + ' · on hand ' + fmt.format(d.before.on_hand) + ' → ' + fmt.format(d.after.on_hand)))
      recent.insertBefore(li, recent.firstChild)
      while (recent.children.length > 20) recent.removeChild(recent.lastChild)
      var empty = document.getElementById('recent-empty')
      if (empty) empty.remove()
    }
    document.dispatchEvent(new CustomEvent('sb:stock', { detail: d }))
  }

  var es = null
  var streamUrl = null
  // Opened at load, and again when a swapped-in fragment (a new page of results) asks for other SKUs.
  function openStream() {
    var holder = document.querySelector('[data-stream]')
    if (!holder || typeof EventSource === 'undefined') return
    if (es && streamUrl === holder.dataset.stream) return
    if (es) es.close()
    streamUrl = holder.dataset.stream
    var status = document.querySelector('[data-live-status]')
    es = new EventSource(streamUrl)
    es.addEventListener('ready', function () {
      if (status) { status.classList.add('on'); status.title = 'Live' }
      document.documentElement.dataset.live = 'on'
    })
    es.addEventListener('stock.changed', function (m) {
      try { applyEvent(JSON.parse(m.data)) } catch (e) { /* a malformed message changes nothing */ }
    })
    es.onerror = function () {
      if (status) { status.classList.remove('on'); status.title = 'Reconnecting' }
    }
  }
  window.addEventListener('pagehide', function () { if (es) es.close() })
  document.addEventListener('htmx:after:settle', openStream)

  function refreshFragment(id) {
    var el = document.getElementById(id)
    if (!el || !el.dataset.src) return
    fetch(el.dataset.src, { headers: { 'HX-Request': 'true' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : null })
      .then(function (text) {
        if (text === null) return
        var tpl = document.createElement('template')
        tpl.innerHTML = text
        var fresh = tpl.content.firstElementChild
        if (!fresh) return
        el.replaceWith(fresh)
        if (window.htmx) window.htmx.process(fresh)
      })
  }

  function chart() {
    var el = document.getElementById('chart')
    if (!el || !window.uPlot) return
    var plot = null
    function size() { return { width: Math.max(280, el.clientWidth), height: 240 } }
    function load() {
      fetch(el.dataset.series, { credentials: 'same-origin' })
        .then(function (r) { return r.json() })
        .then(function (s) {
          var data = [s.times, s.totals]
          el.dataset.points = String(s.times.length)
          if (plot) { plot.setData(data); return }
          var opts = Object.assign(size(), {
            title: 'On hand, all warehouses',
            scales: { x: { time: true } },
            series: [{}, { label: 'On hand', stroke: '#0550ae', width: 2, fill: 'rgba(5,80,174,0.08)', paths: window.uPlot.paths.stepped({ align: 1 }) }],
            axes: [{}, { label: 'units' }],
          })
          plot = new window.uPlot(opts, data, el)
        })
    }
    load()
    window.addEventListener('resize', function () { if (plot) plot.setSize(size()) })
    document.addEventListener('sb:stock', function (e) { if (e.detail.sku === el.dataset.sku) load() })
    document.addEventListener('sb:moved', load)
  }

  function skuPage() {
    var page = document.querySelector('[data-sku-page]')
    if (!page) return
    var sku = page.dataset.skuPage
    document.addEventListener('sb:stock', function (e) {
      if (e.detail.sku !== sku) return
      refreshFragment('history')
      refreshFragment('reservations')
    })
  }

  // A movement made from this page: htmx sends the HX-Trigger the server set ("sb:moved").
  document.addEventListener('sb:moved', function () { refreshFragment('history'); refreshFragment('levels') })

  document.addEventListener('DOMContentLoaded', function () {
    openStream()
    chart()
    skuPage()
  })
})()
