import { describe, expect, it } from 'vitest';
import { parseFarm, parseShard, plan, shardDevices } from '../../src/farm/inventory.js';

const GOOD = `
devices:
  - { name: n810-a, host: 10.0.0.5, user: root, port: 2222, tags: [n810, lab] }
  - { name: n800-b, host: n800, tags: [n800] }
apps:
  - { name: gallery, push: ./app, script: app/main.py, args: [--frames, 100], duration: 10m, untilVerdict: true, on: [n810] }
  - { script: other.py }
schedules:
  - { app: gallery, cron: "0 2 * * *" }
`;

describe('farm inventory', () => {
  it('reads devices, apps and schedules, with defaults', () => {
    const f = parseFarm(GOOD, 'farm.yaml');
    expect(f.devices[0]).toMatchObject({ name: 'n810-a', host: '10.0.0.5', user: 'root', port: 2222, tags: ['n810', 'lab'] });
    expect(f.devices[1]).toMatchObject({ name: 'n800-b', user: null, port: null });
    expect(f.apps[0]).toMatchObject({ name: 'gallery', args: ['--frames', '100'], duration: 600, untilVerdict: true, on: ['n810'] });
    expect(f.apps[1]!.name).toBe('other.py');
    expect(f.apps[1]!.untilVerdict).toBe(false);
    expect(plan(f, f.devices).map((p) => `${p.app.name}@${p.device.name}`)).toEqual(['gallery@n810-a', 'other.py@n810-a', 'other.py@n800-b']);
  });

  it.each([
    ['devices:\n  - { host: a, port: 22x }\napps: [{ script: a.py }]', /devices\[0\]\.port: must be a whole number from 1 to 65535 \(got "22x"\)/],
    ['devices:\n  - { name: a }\napps: [{ script: a.py }]', /devices\[0\]\.host: is required/],
    ['devices:\n  - { host: a, colour: red }\napps: [{ script: a.py }]', /devices\[0\]\.colour: unknown field/],
    ['devices: [{ host: a }, { host: a }]\napps: [{ script: a.py }]', /devices\[1\]\.name: 'a' is used twice/],
    ['devices: [{ host: a }]\napps: [{ script: a.py, on: [nope] }]', /apps\[0\]\.on: 'nope' is neither a device name nor a tag/],
    ['devices: [{ host: a }]\napps: [{ script: a.py, duration: soon }]', /apps\[0\]\.duration: must be seconds or a number with s, m, h or d/],
    ['devices: [{ host: a }]\napps: [{ script: a.py, untilVerdict: yes please }]', /apps\[0\]\.untilVerdict: must be true or false/],
    ['devices: [{ host: a }]\napps: [{ script: a.py }]\nschedules: [{ app: b, cron: "* * * * *" }]', /schedules\[0\]\.app: no app named 'b'/],
    ['devices: a\napps: []', /devices: must be a list/],
    ['apps: [{ script: a.py }]', /devices: is required/],
    ['devices: [\n', /not valid YAML/],
  ])('refuses a bad field in one line naming it: %#', (text, re) => {
    expect(() => parseFarm(text, 'farm.yaml')).toThrow(re);
  });

  it('splits devices into shards deterministically, each in exactly one', () => {
    const f = parseFarm(`devices:\n${Array.from({ length: 23 }, (_, i) => `  - { name: d${String(i).padStart(2, '0')}, host: h${i} }`).join('\n')}\napps: [{ script: a.py }]`, 'f.yaml');
    const shards = [1, 2, 3, 4].map((i) => shardDevices(f.devices, [i, 4]).map((d) => d.name));
    expect(shards.flat().sort()).toEqual(f.devices.map((d) => d.name).sort());
    expect(new Set(shards.flat()).size).toBe(23);
    expect(shardDevices([...f.devices].reverse(), [2, 4]).map((d) => d.name)).toEqual(shards[1]);
    expect(() => parseShard('5/4')).toThrow(/not i\/n/);
    expect(parseShard('2/4')).toEqual([2, 4]);
  });

  it('takes the CI engines\' variables as given: GitLab\'s 1-based CI_NODE_INDEX/CI_NODE_TOTAL; refuses a 0-based index and unset variables', () => {
    expect(parseShard('4/4')).toEqual([4, 4]);
    expect(parseShard(' 1/1 ')).toEqual([1, 1]);
    expect(() => parseShard('0/4')).toThrow(/--shard '0\/4': shard indexes start at 1 \(GitLab's CI_NODE_INDEX does\), not 0/);
    for (const unset of ['/', '/4', '2/', '']) expect(() => parseShard(unset)).toThrow(/has an empty index or total: the CI variables it was built from are not set/);
    expect(() => parseShard('x/4')).toThrow(/is not i\/n with 1 <= i <= n/);
  });
});

describe('farm run plan', () => {
  it('runs each app as refscope run DEVICE would: untilVerdict, the default sampling, paths from the inventory\'s folder, never a prompt', async () => {
    const { runPlan } = await import('../../src/farm/run.js');
    const f = parseFarm(GOOD, '/lab/farm.yaml');
    const on = runPlan(f, f.devices[0]!, f.apps[0]!, '/out/s1');
    expect(on.request.untilVerdict).toBe(true);
    expect(on.request.onDevice).toBe(true);
    expect(on.request.out).toBe('/out/s1');
    expect(on.request.cwd).toBe('/lab');
    expect(on.connect.interactive).toBe(false);
    const off = runPlan(f, f.devices[0]!, f.apps[1]!, '/out/s2');
    expect(off.request.untilVerdict).toBe(false);
    // an app without interval/censusBudget gets refscope run's defaults
    const { DEFAULT_INTERVAL, DEFAULT_CENSUS_BUDGET } = await import('../../src/capture/probe.js');
    for (const p of [on, off]) {
      const app = f.apps.find((a) => a.script === p.request.command[0])!;
      expect(p.request.interval).toBe(app.interval ?? DEFAULT_INTERVAL);
      expect(p.request.censusBudget).toBe(app.censusBudget ?? DEFAULT_CENSUS_BUDGET);
    }
  });
});
