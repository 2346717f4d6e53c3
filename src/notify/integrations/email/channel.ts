// Email: one message per notification, handed to an SMTP server.
import { defineChannel } from '../channel.ts';
import { emailSettings, receiverKeys, sectionKeys } from './config.ts';
import { createEmailNotifier } from './notifier.ts';

export const channel = defineChannel({
  type: 'email',
  receiverKeys,
  sectionKeys,
  secrets: { section: ['password'] },
  impliedBy: 'email',
  settings: emailSettings,
  create: createEmailNotifier,
});
