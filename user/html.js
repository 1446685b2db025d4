// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// qhtrace's HTML report: draws the timeline, memory and flame graph from the page's JSON block
// with D3 (inlined before this script), and makes the tables sortable. Inlined by html.c.
(function () {
	'use strict';
	var D = JSON.parse(document.getElementById('qh-data').textContent);
	var PF_LEFTOVER = 1, PF_ZOMBIE = 2, PF_FINDING = 4, PF_DRIVER = 8, PF_RUNNING = 32,
	    PF_FAILED = 64;

	function kb(v) {
		if (v >= 1048576) return (v / 1048576).toFixed(1) + ' GiB';
		if (v >= 1024) return (v / 1024).toFixed(1) + ' MiB';
		return Math.round(v) + ' KiB';
	}
	function bytes(v) { return v >= 1024 ? kb(v / 1024) : Math.round(v) + ' B'; }
	function secs(ms) { return (ms / 1000).toFixed(ms < 10000 ? 3 : 1) + ' s'; }
	function widthOf(el) { return Math.max(640, el.clientWidth || 960); }

	function timeline() {
		var el = document.getElementById('timeline-chart');
		if (!el || !D.timeline) return;
		var bars = D.timeline.bars, span = D.timeline.span || 1;
		var W = widthOf(el), L = 240, R = 12, RH = 14;
		var H = bars.length * RH + 4;
		var x0 = d3.scaleLinear().domain([0, span]).range([L, W - R]), x = x0;
		var tools = d3.select(el).append('div').attr('class', 'tools');
		var axisSvg = d3.select(el).append('svg').attr('width', W).attr('height', 22);
		var axisG = axisSvg.append('g').attr('class', 'axis').attr('transform', 'translate(0,20)');
		var svg = d3.select(el).append('div').attr('class', 'scroll').append('svg')
			.attr('width', W).attr('height', H);
		svg.append('clipPath').attr('id', 'tl-clip').append('rect')
			.attr('x', L).attr('y', 0).attr('width', W - L - R).attr('height', H);
		var rows = svg.append('g').attr('clip-path', 'url(#tl-clip)');
		var rects = rows.selectAll('rect.bar').data(bars).enter().append('rect')
			.attr('class', function (b) {
				var c = 'bar';
				if (b.n) c += ' folded';
				else if (b.f & PF_ZOMBIE) c += ' zombie';
				else if (b.f & PF_FAILED) c += ' failed';
				else if (b.f & PF_RUNNING) c += ' running';
				else if (b.dr !== undefined) c += ' tree';
				if (b.f & PF_LEFTOVER) c += ' leftover';
				if (b.f & PF_DRIVER) c += ' driver';
				return c;
			})
			.attr('y', function (b, i) { return i * RH + 2; })
			.attr('height', RH - 3);
		rects.append('title').text(function (b) {
			var marks = [];
			if (b.f & PF_DRIVER) marks.push('WebDriver');
			if (b.dr !== undefined) marks.push('driver tree #' + b.dr);
			if (b.f & PF_LEFTOVER) marks.push('leftover');
			if (b.f & PF_ZOMBIE) marks.push('zombie');
			if (b.f & PF_FINDING) marks.push('has findings');
			if (b.f & PF_RUNNING) marks.push('running at the end');
			return (b.n ? b.l + ' (folded: ' + b.n + ' processes)' : b.l + ' pid ' + b.p) +
				'\nfrom ' + secs(b.s) + ' to ' + secs(b.e) + ' (' + secs(b.e - b.s) + ')\n' +
				b.x + (marks.length ? '\n' + marks.join(', ') : '');
		});
		svg.append('g').selectAll('text').data(bars).enter().append('text')
			.attr('x', function (b) { return 4 + Math.min(b.d, 20) * 8; })
			.attr('y', function (b, i) { return i * RH + RH - 3; })
			.text(function (b) {
				var t = b.l + (b.p ? ' ' + b.p : '');
				return t.length > 30 ? t.slice(0, 29) + '\u2026' : t;
			});
		function draw() {
			rects.attr('x', function (b) { return x(b.s); })
				.attr('width', function (b) { return Math.max(1, x(b.e) - x(b.s)); });
			axisG.call(d3.axisTop(x).ticks(8).tickFormat(function (ms) {
				return (ms / 1000) + ' s';
			}));
		}
		var zoom = d3.zoom().scaleExtent([1, 1e6])
			.extent([[L, 0], [W - R, H]]).translateExtent([[L, 0], [W - R, H]])
			.on('zoom', function () {
				x = d3.event.transform.rescaleX(x0);
				el.setAttribute('data-zoom', d3.event.transform.k.toFixed(3));
				draw();
			});
		svg.call(zoom).on('dblclick.zoom', null)
			.on('dblclick', function () { svg.call(zoom.transform, d3.zoomIdentity); });
		tools.append('button').text('zoom in').on('click', function () {
			svg.call(zoom.scaleBy, 2);
		});
		tools.append('button').text('zoom out').on('click', function () {
			svg.call(zoom.scaleBy, 0.5);
		});
		tools.append('button').text('reset').on('click', function () {
			svg.call(zoom.transform, d3.zoomIdentity);
		});
		draw();
	}

	function memory() {
		var el = document.getElementById('memory-chart');
		if (!el) return;
		var S = (D.memory && D.memory.series) || [];
		if (!S.length) {
			el.textContent = 'No memory samples in this run.';
			return;
		}
		var W = widthOf(el), H = 260, M = { l: 70, r: 16, t: 10, b: 26 };
		var tools = d3.select(el).append('div').attr('class', 'tools');
		var sel = tools.append('select').attr('id', 'memory-series');
		sel.selectAll('option').data(S).enter().append('option')
			.attr('value', function (s, i) { return i; })
			.text(function (s) { return s.name; });
		var legend = tools.append('span').attr('class', 'legend');
		var svg = d3.select(el).append('svg').attr('width', W).attr('height', H);
		var kinds = [{ i: 2, name: 'file', c: '#8ab4f8' }, { i: 3, name: 'anon', c: '#f28b82' },
			{ i: 4, name: 'shmem', c: '#81c995' }];
		function draw(s) {
			svg.selectAll('*').remove();
			legend.selectAll('*').remove();
			var pts = s.pts, span = (D.timeline && D.timeline.span) || 1;
			var tmax = Math.max(span, d3.max(pts, function (p) { return p[0]; }) || 0);
			var x = d3.scaleLinear().domain([0, tmax]).range([M.l, W - M.r]);
			var y = d3.scaleLinear().domain([0, (d3.max(pts, function (p) { return p[1]; }) || 1) * 1.05])
				.range([H - M.b, M.t]);
			var byKind = pts.some(function (p) { return p[2] + p[3] + p[4] > 0; });
			svg.append('g').attr('transform', 'translate(0,' + (H - M.b) + ')')
				.call(d3.axisBottom(x).ticks(8).tickFormat(function (ms) { return ms / 1000 + ' s'; }));
			svg.append('g').attr('transform', 'translate(' + M.l + ',0)')
				.call(d3.axisLeft(y).ticks(5).tickFormat(kb));
			if (byKind) {
				var stack = d3.stack().keys([2, 3, 4])
					.value(function (p, k) { return p[k]; })(pts);
				var area = d3.area().x(function (d) { return x(d.data[0]); })
					.y0(function (d) { return y(d[0]); }).y1(function (d) { return y(d[1]); });
				svg.selectAll('path.kind').data(stack).enter().append('path')
					.attr('class', 'kind').attr('d', area)
					.attr('fill', function (d, i) { return kinds[i].c; });
				kinds.forEach(function (k) {
					var sp = legend.append('span');
					sp.append('i').style('background', k.c);
					sp.append('span').text(k.name);
				});
			}
			svg.append('path').datum(pts).attr('fill', 'none').attr('stroke', '#333')
				.attr('stroke-width', 1.2)
				.attr('d', d3.line().x(function (p) { return x(p[0]); })
					.y(function (p) { return y(p[1]); }));
			svg.selectAll('circle').data(pts.length < 60 ? pts : []).enter().append('circle')
				.attr('r', 2.5).attr('cx', function (p) { return x(p[0]); })
				.attr('cy', function (p) { return y(p[1]); })
				.append('title').text(function (p) {
					return secs(p[0]) + ': RSS ' + kb(p[1]) + (byKind ? ' (file ' + kb(p[2]) +
						', anon ' + kb(p[3]) + ', shmem ' + kb(p[4]) + ')' : '') +
						(p[5] ? ', swap ' + kb(p[5]) : '');
				});
			legend.append('span').text('RSS (line), peak ' +
				kb(d3.max(pts, function (p) { return p[1]; }) || 0));
		}
		sel.on('change', function () { draw(S[+this.value]); });
		draw(S[0]);
	}

	function flame() {
		var el = document.getElementById('flame-chart');
		if (!el || !D.flame) return;
		var root = d3.hierarchy(D.flame, function (d) { return d.c; })
			.sum(function (d) { return d.v; })
			.sort(function (a, b) { return b.value - a.value; });
		if (!root.value) return;
		var W = widthOf(el), RH = 20;
		d3.partition().size([W, (root.height + 1) * RH])(root);
		var svg = d3.select(el).append('svg').attr('width', W)
			.attr('height', (root.height + 1) * RH);
		var x = d3.scaleLinear().domain([0, W]).range([0, W]);
		var nodes = root.descendants();
		var g = svg.selectAll('g').data(nodes).enter().append('g');
		var palette = d3.scaleOrdinal(['#f5a25d', '#f7c873', '#f28e5c', '#e9b872', '#f4a261',
			'#eec170']);
		var rect = g.append('rect').attr('class', 'frame')
			.attr('data-name', function (d) { return d.data.n; })
			.attr('data-depth', function (d) { return d.depth; })
			.attr('y', function (d) { return d.y0; })
			.attr('height', RH - 1)
			.attr('fill', function (d) { return d.depth ? palette(d.data.n) : '#d9d9d9'; })
			.on('click', function (d) { zoomTo(d); });
		rect.append('title').text(function (d) {
			return d.data.n + (d.data.f ? '\n' + d.data.f : '') + '\n' + bytes(d.value) +
				' in ' + d.data.b + ' blocks (' +
				(100 * d.value / root.value).toFixed(1) + '%)';
		});
		var text = g.append('text').attr('class', 'frame-label')
			.attr('y', function (d) { return d.y0 + RH - 6; });
		function draw() {
			rect.attr('x', function (d) { return x(d.x0); })
				.attr('width', function (d) { return Math.max(0, x(d.x1) - x(d.x0)); });
			text.attr('x', function (d) { return x(d.x0) + 3; })
				.text(function (d) {
					var w = x(d.x1) - x(d.x0), n = Math.floor((w - 6) / 6.5);
					var t = d.data.n + ' ' + bytes(d.value);
					if (n < 3) return '';
					return t.length > n ? t.slice(0, n - 1) + '\u2026' : t;
				});
		}
		function zoomTo(d) {
			x.domain([d.x0, d.x1]);
			el.setAttribute('data-zoomed', d.data.n);
			draw();
		}
		draw();
	}

	function sortable() {
		var tables = document.querySelectorAll('table.sortable');
		Array.prototype.forEach.call(tables, function (t) {
			var ths = t.querySelectorAll('thead th');
			Array.prototype.forEach.call(ths, function (th, col) {
				th.addEventListener('click', function () {
					var asc = !th.classList.contains('asc');
					Array.prototype.forEach.call(ths, function (h) {
						h.classList.remove('asc', 'desc');
					});
					th.classList.add(asc ? 'asc' : 'desc');
					var body = t.tBodies[0];
					var rows = Array.prototype.slice.call(body.rows);
					function key(r) {
						var c = r.cells[col];
						if (!c) return '';
						var v = c.getAttribute('data-v');
						return v !== null ? parseFloat(v) : c.textContent;
					}
					rows.sort(function (a, b) {
						var x = key(a), y = key(b), r;
						if (typeof x === 'number' && typeof y === 'number') r = x - y;
						else r = String(x).localeCompare(String(y));
						return asc ? r : -r;
					});
					rows.forEach(function (r) { body.appendChild(r); });
				});
			});
		});
	}

	timeline();
	memory();
	flame();
	sortable();
	// when the page was drawn, for the tests and the benchmark
	document.body.setAttribute('data-ready-ms', Math.round(performance.now()));
	document.body.setAttribute('data-ready', '1');
})();
