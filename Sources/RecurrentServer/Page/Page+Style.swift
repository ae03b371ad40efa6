extension Page {
    static let css = #"""
    :root { --ink: #1d2330; --muted: #667085; --line: #d9dee7; --accent: #2f6fde; --accent2: #e0702f; --paper: #f7f8fb; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--paper); }
    header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
    header h1 { margin: 0; font-size: 1.3rem; }
    header nav { margin-left: auto; }
    #server { color: var(--muted); font-size: .9rem; }
    a { color: var(--accent); }
    main { display: grid; grid-template-columns: 15rem 1fr; gap: 1.5rem; padding: 1.5rem; max-width: 75rem; }
    aside h2, section h2 { margin-top: 0; font-size: 1.05rem; }
    #models { list-style: none; padding: 0; margin: 0; }
    #models li { padding: .45rem .6rem; border-radius: 6px; cursor: pointer; margin-bottom: .2rem; }
    #models li:hover { background: #eaf0fb; }
    #models li.selected { background: var(--accent); color: #fff; }
    #models li small { display: block; opacity: .75; }
    section { min-width: 0; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 1.2rem 1.4rem; min-height: 20rem; }
    label { display: block; margin: .6rem 0; color: var(--muted); font-size: .85rem; }
    textarea, input[type=text] { display: block; width: 100%; margin-top: .25rem; font: 14px/1.4 ui-monospace, monospace; padding: .5rem;
      border: 1px solid var(--line); border-radius: 6px; color: var(--ink); }
    input[type=number] { width: 6rem; padding: .35rem; border: 1px solid var(--line); border-radius: 6px; margin-left: .3rem; }
    .row { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
    .row label { margin: .3rem 0; }
    button { background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: .5rem 1.1rem; font-size: .95rem; cursor: pointer; }
    button.secondary { background: #fff; color: var(--accent); border: 1px solid var(--accent); }
    button:disabled { opacity: .5; cursor: wait; }
    .output, textarea { overflow-wrap: anywhere; }
    .output { white-space: pre-wrap; background: var(--paper); border-radius: 6px; padding: .7rem; min-height: 2rem; margin: .8rem 0; }
    .output.big { font-size: 1.2rem; }
    .error { color: #b42318; }
    .hint { color: var(--muted); }
    .bar { display: grid; grid-template-columns: 9rem 1fr 4rem; gap: .5rem; align-items: center; margin: .2rem 0; font-size: .9rem; }
    .bar .fill { height: .9rem; background: var(--accent); border-radius: 3px; }
    .bar .track { background: #edf0f5; border-radius: 3px; }
    .prediction { border-top: 1px solid var(--line); padding: .6rem 0; }
    .prediction b { display: inline-block; margin-bottom: .3rem; }
    .chart svg { width: 100%; height: auto; font: 11px system-ui, sans-serif; }
    select { padding: .35rem; border: 1px solid var(--line); border-radius: 6px; margin-left: .3rem; }
    .conversation { list-style: none; padding: 0; margin: 0 0 .8rem; display: flex; flex-direction: column; gap: .4rem; min-height: 6rem; }
    .conversation li { max-width: 80%; padding: .45rem .75rem; border-radius: 12px; white-space: pre-wrap; }
    .conversation li.user { align-self: flex-end; background: var(--accent); color: #fff; }
    .conversation li.assistant { align-self: flex-start; background: #edf0f5; min-width: 2rem; min-height: 2.1rem; }
    .hidden { display: none; }
    .row input[type=text] { display: inline-block; width: 8rem; margin-left: .3rem; }
    table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
    td, th { border-bottom: 1px solid var(--line); padding: .25rem .7rem .25rem 0; text-align: left; }
    """#
}
