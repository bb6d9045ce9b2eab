import { uptime } from 'node:os';
import type { SystemSource } from './sampler.js';

type SystemInformation = typeof import('systeminformation');

/**
 * systeminformation, for the platforms without a /proc source (macOS, Windows). It is imported
 * on first use, so an agent on Linux never loads it (its modules cost resident memory).
 */
export class LibrarySource implements SystemSource {
  private lib: Promise<SystemInformation> | null = null;

  private si(): Promise<SystemInformation> {
    this.lib ??= import('systeminformation').then((m) => m.default);
    return this.lib;
  }

  async currentLoad(): ReturnType<SystemSource['currentLoad']> {
    return (await this.si()).currentLoad();
  }

  async mem(): ReturnType<SystemSource['mem']> {
    return (await this.si()).mem();
  }

  async fsSize(): ReturnType<SystemSource['fsSize']> {
    return (await this.si()).fsSize();
  }

  async networkStats(iface: string): ReturnType<SystemSource['networkStats']> {
    return (await this.si()).networkStats(iface);
  }

  async battery(): ReturnType<SystemSource['battery']> {
    return (await this.si()).battery();
  }

  async cpuTemperature(): ReturnType<SystemSource['cpuTemperature']> {
    return (await this.si()).cpuTemperature();
  }

  async processes(): ReturnType<SystemSource['processes']> {
    return (await this.si()).processes();
  }

  /** systeminformation's time() also spawns for the time zone; os.uptime() is what it reports as uptime. */
  time(): ReturnType<SystemSource['time']> {
    return { uptime: uptime() };
  }
}
