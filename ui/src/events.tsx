/**
 * The live event stream shared by every page.
 *
 * One connection to /api/v1/events is kept open while logged in (reconnecting
 * after a pause if it drops). The latest events are kept in memory for the
 * dashboard and the live log; pages can also subscribe to each new event
 * (e.g. to refresh the status when a `status` event arrives). `notification`
 * events also pop up as a message in the corner, in the interface's language.
 */
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { notifications } from '@mantine/notifications';
import { readEvents } from './api/sse';
import { notifyText } from './notify';
import type { ServerEvent } from './api/types';

export const MAX_EVENTS = 1000;

export interface EventsState {
  events: ServerEvent[]; // newest first
  connected: boolean;
  subscribe: (fn: (e: ServerEvent) => void) => () => void;
}

const EventsContext = createContext<EventsState>({
  events: [],
  connected: false,
  subscribe: () => () => {},
});

export function useEvents() {
  return useContext(EventsContext);
}

export function EventsProvider({ children, enabled }: { children: ReactNode; enabled: boolean }) {
  const [events, setEvents] = useState<ServerEvent[]>([]);
  const [connected, setConnected] = useState(false);
  const subs = useRef(new Set<(e: ServerEvent) => void>());

  useEffect(() => {
    if (!enabled) return;
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      readEvents((e) => {
        setConnected(true);
        setEvents((prev) => [e, ...prev].slice(0, MAX_EVENTS));
        if (e.kind === 'notification') {
          // One message per subject: a repeat replaces the one on screen.
          const n = notifyText(e);
          notifications.hide(n.id);
          notifications.show({ id: n.id, color: n.color, title: n.title || undefined, message: n.message });
        }
        for (const fn of subs.current) fn(e);
      }, ctrl.signal)
        .catch(() => undefined)
        .finally(() => {
          setConnected(false);
          if (!ctrl.signal.aborted) timer = setTimeout(connect, 3000);
        });
      setConnected(true);
    };
    connect();
    return () => {
      ctrl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [enabled]);

  const subscribe = (fn: (e: ServerEvent) => void) => {
    subs.current.add(fn);
    return () => {
      subs.current.delete(fn);
    };
  };

  return <EventsContext.Provider value={{ events, connected, subscribe }}>{children}</EventsContext.Provider>;
}
